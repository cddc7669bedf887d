import type { Send } from '../scenarios';
import type { DriveReport, SendRecord } from './driver';
import { answerProblems } from './run';

const send = (key: string): Send => ({ customerId: 'cus-a', idempotencyKey: key, body: Buffer.from('[]'), contentType: 'application/json', entries: [], expect: { kind: 'accepted' } });
const record = (index: number, status: number, unsettled = 0): SendRecord => ({ index, status, attempts: 1 + unsettled, networkErrors: 0, unsettled, latencyMs: 1, firstSentAt: 0, answeredAt: 1 });
const report = (records: SendRecord[]): DriveReport => ({ records, answers: {}, retries: 0, startedAt: 0, finishedAt: 1, acceptedBytes: 0 });

describe('answerProblems', () => {
  const sends = [send('b1'), send('b1')];

  it('wants one 202 and 409 for the rest of a batch', () => {
    expect(answerProblems(sends, report([record(0, 202), record(1, 409)]), true)).toEqual([]);
    expect(answerProblems(sends, report([record(0, 202), record(1, 202)]), true)).toHaveLength(1);
    expect(answerProblems(sends, report([record(0, 409), record(1, 409)]), true)).toHaveLength(1);
  });

  it('lets a batch whose send was retried after a 502, 503 or 504 (stored, then not acknowledged) end with 409 alone, never with two 202', () => {
    expect(answerProblems(sends, report([record(0, 409, 1), record(1, 409)]), true)).toEqual([]);
    expect(answerProblems(sends, report([record(0, 202, 1), record(1, 202)]), true)).toHaveLength(1);
  });
});
