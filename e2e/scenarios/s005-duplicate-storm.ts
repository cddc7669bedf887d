import { USER_AGENTS, userAgentTable } from './user-agents';
import { customerId, GeneratorOptions, isoAt, JSON_CONTENT_TYPE, jsonBody, pad, Scenario, seededRandom, Send } from './model';

/**
 * Every batch sent three times in a row with 16 requests in flight, so identical requests race
 * each other: exactly one 202 per batch, the other two 409, and every entry counted once.
 */
export function scenarioDuplicateStorm(options: GeneratorOptions & { batches?: number } = {}): Scenario {
  const customer = customerId('cus-storm', options);
  const random = seededRandom(5005);
  const sends: Send[] = [];
  const count = options.batches ?? 600;
  for (let b = 1; b <= count; b++) {
    const entries = Array.from({ length: 10 }, () => ({
      receivedAt: isoAt('2025-08-20', 6, Math.floor(random() * 10), Math.floor(random() * 60), Math.floor(random() * 1000)),
      method: 'GET',
      path: `/storm/${Math.floor(random() * 8)}`,
      userAgent: USER_AGENTS[Math.floor(random() * 4)][0],
    }));
    const send: Send = { customerId: customer, idempotencyKey: `storm-${pad(b, 6)}`, body: jsonBody(entries), contentType: JSON_CONTENT_TYPE, entries, expect: { kind: 'accepted' } };
    sends.push(send, { ...send }, { ...send });
  }
  return { id: '005_duplicate_storm', title: 'every batch three times, 16 in flight', inFlight: 16, sends, families: userAgentTable(4), customers: [customer] };
}
