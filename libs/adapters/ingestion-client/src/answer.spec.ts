import { interpretAnswer, parseRetryAfter, retryDelayMs } from './answer';

describe('interpretAnswer', () => {
  it('follows the contract: 202 accepted, 409 duplicate, 503/429/5xx retried, other 4xx refused with the error', () => {
    expect(interpretAnswer(202, null, '{"batchId":"b","entries":1}')).toEqual({ kind: 'accepted' });
    expect(interpretAnswer(409, null, '{"batchId":"b","status":"duplicate"}')).toEqual({ kind: 'duplicate' });
    expect(interpretAnswer(503, '2', '{"error":{"code":"unavailable","message":"S3 down"}}')).toEqual({ kind: 'retry', reason: '503 unavailable: S3 down', retryAfterMs: 2000 });
    expect(interpretAnswer(429, '1', '')).toMatchObject({ kind: 'retry', retryAfterMs: 1000 });
    expect(interpretAnswer(502, null, '<html>bad gateway</html>')).toMatchObject({ kind: 'retry', retryAfterMs: undefined });
    expect(interpretAnswer(422, null, '{"error":{"code":"idempotency_key_reused","message":"other content"}}')).toEqual({ kind: 'refused', reason: '422 idempotency_key_reused: other content' });
    expect(interpretAnswer(400, null, '{"error":{"code":"invalid_entries","message":"1 problem","details":{"errors":[{"index":0}]}}}')).toEqual({
      kind: 'refused',
      reason: '400 invalid_entries: 1 problem {"errors":[{"index":0}]}',
    });
  });
});

describe('Retry-After', () => {
  it('reads seconds and HTTP dates', () => {
    expect(parseRetryAfter('3')).toBe(3000);
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:28:05 GMT', Date.parse('Wed, 21 Oct 2015 07:28:00 GMT'))).toBe(5000);
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter(null)).toBeUndefined();
  });

  it('is honoured, within the policy bound, and backoff grows otherwise', () => {
    const policy = { maxAttempts: 5, baseMs: 100, maxDelayMs: 5_000 };
    for (let i = 0; i < 50; i++) {
      expect(retryDelayMs(0, 2_000, policy)).toBeGreaterThanOrEqual(2_000);
      expect(retryDelayMs(0, 60_000, policy)).toBe(5_000);
      expect(retryDelayMs(0, undefined, policy)).toBeLessThan(100);
      expect(retryDelayMs(30, undefined, policy)).toBeLessThanOrEqual(5_000);
    }
    expect(Math.max(...Array.from({ length: 200 }, () => retryDelayMs(6, undefined, policy)))).toBeGreaterThan(100);
  });
});
