import { classifyClickHouse, classifyKafka, classifyS3 } from './classify';
import { DependencyError } from './dependency-error';
import { consumerAction, describeFailure, failureAnswer, kindOf, reasonCodeOf } from './policy';

describe('classifying dependency failures', () => {
  it('tells a ClickHouse that refuses every write from one that refuses this input, and from one that is down', () => {
    // What an operator meets: read-only, a full disk, too many parts, a memory limit, a detached table, a revoked grant.
    for (const code of [164, 243, 252, 241, 60, 81, 497, 516]) expect([code, classifyClickHouse(code).kind]).toEqual([code, 'refusing']);
    for (const code of [6, 27, 53, 62, 117, 131, 190, 321]) expect([code, classifyClickHouse(code).kind]).toEqual([code, 'input']);
    for (const code of [159, 202, 209, 210, 236, 394]) expect([code, classifyClickHouse(code).kind]).toEqual([code, 'unavailable']);
    expect(classifyClickHouse(undefined)).toEqual({ kind: 'unavailable', name: 'unavailable' });
    // Replicas: a quorum write while a replica or the coordinator is away waits, it never dead-letters.
    for (const code of [225, 242, 254, 285, 286, 319, 999]) expect([code, ['unavailable', 'refusing'].includes(classifyClickHouse(code).kind)]).toEqual([code, true]);
    expect(classifyClickHouse(286).name).toBe('UNSATISFIED_QUORUM_FOR_PREVIOUS_WRITE');
    expect(classifyClickHouse(164).name).toBe('READONLY');
    expect(classifyClickHouse(4242)).toEqual({ kind: 'unknown', name: 'code_4242' });
  });

  it('reads S3 statuses: a denied policy, a missing bucket and a full disk refuse; a malformed request is the input; no answer is an outage', () => {
    expect(classifyS3(403, 'AccessDenied')).toEqual({ kind: 'refusing', name: '403_AccessDenied' });
    expect(classifyS3(404, 'NoSuchBucket').kind).toBe('refusing');
    expect(classifyS3(507, 'XMinioStorageFull').kind).toBe('refusing');
    expect(classifyS3(400, 'InvalidArgument').kind).toBe('input');
    expect(classifyS3(413, 'EntityTooLarge').kind).toBe('input');
    expect(classifyS3(503, 'SlowDown').kind).toBe('unavailable');
    expect(classifyS3(undefined, 'TimeoutError')).toEqual({ kind: 'unavailable', name: 'unavailable' });
    expect(classifyS3(418, 'Teapot').kind).toBe('unknown');
  });

  it('reads Kafka error types: a refused message is the input, a revoked right refuses, the rest is the cluster\'s state', () => {
    expect(classifyKafka('MESSAGE_TOO_LARGE', false).kind).toBe('input');
    expect(classifyKafka('TOPIC_AUTHORIZATION_FAILED', false).kind).toBe('refusing');
    expect(classifyKafka('NOT_LEADER_FOR_PARTITION', true).kind).toBe('unavailable');
    expect(classifyKafka(undefined, undefined).kind).toBe('unavailable');
    expect(classifyKafka('SOMETHING_NEW', false)).toEqual({ kind: 'unknown', name: 'SOMETHING_NEW' });
  });
});

describe('the failure policy', () => {
  const evidence = (sameFailures: number, othersPass: boolean) => ({ sameFailures, blameAfterAttempts: 5, othersPass });

  it('holds the partition for whatever the store gives for any input, however often and whatever the evidence', () => {
    for (const kind of ['unavailable', 'refusing'] as const) {
      expect(consumerAction(kind, 1, evidence(1_000, true))).toBe('hold');
      expect(consumerAction(kind, 40, evidence(1_000, true))).toBe('hold');
    }
  });

  it('isolates a refusal of the input at once: split a unit of several, dead-letter a single message', () => {
    expect(consumerAction('input', 40, evidence(1, false))).toBe('split');
    expect(consumerAction('input', 1, evidence(1, false))).toBe('dead_letter');
  });

  it('blames an unclassified failure on the input only after repeated attempts and with evidence that other input passes', () => {
    expect(consumerAction('unknown', 1, evidence(4, true))).toBe('hold');
    expect(consumerAction('unknown', 1, evidence(5, false))).toBe('hold');
    expect(consumerAction('unknown', 1, evidence(5, true))).toBe('dead_letter');
    expect(consumerAction('unknown', 8, evidence(5, true))).toBe('split');
  });

  it('answers an HTTP client 503 with Retry-After for anything that may pass later, longer while a store refuses writes, and 500 for a refused valid input', () => {
    expect(failureAnswer(new DependencyError('s3', 'unavailable', 'timeout', 'slow'))).toEqual({ status: 503, retryAfterSeconds: 2 });
    expect(failureAnswer(new DependencyError('s3', 'refusing', '507_XMinioStorageFull', 'full'))).toEqual({ status: 503, retryAfterSeconds: 10 });
    expect(failureAnswer(new DependencyError('kafka', 'unknown', 'X', 'x'))).toEqual({ status: 503, retryAfterSeconds: 2 });
    expect(failureAnswer(new DependencyError('kafka', 'input', 'MESSAGE_TOO_LARGE', 'too large'))).toEqual({ status: 500 });
    expect(failureAnswer(new TypeError('defect'))).toEqual({ status: 500 });
  });

  it('names failures the same way in metrics, logs and readiness', () => {
    const readOnly = new DependencyError('clickhouse', 'refusing', 'readonly', 'Code: 164. Cannot execute query in readonly mode');
    expect(kindOf(readOnly)).toBe('refusing');
    expect(kindOf(new Error('x'))).toBe('unknown');
    expect(reasonCodeOf(readOnly)).toBe('clickhouse_readonly');
    expect(reasonCodeOf(new DependencyError('s3', 'refusing', '403_AccessDenied', 'denied'))).toBe('s3_403_accessdenied');
    expect(reasonCodeOf(new Error('x'))).toBe('internal_error');
    expect(describeFailure(readOnly)).toBe('clickhouse refuses writes (readonly): Code: 164. Cannot execute query in readonly mode');
  });
});
