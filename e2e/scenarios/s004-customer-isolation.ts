import type { LogEntry } from '@pipeline/entry';
import { USER_AGENTS, userAgentTable } from './user-agents';
import { customerId, GeneratorOptions, isoAt, JSON_CONTENT_TYPE, jsonBody, pad, Scenario, seededRandom, Send } from './model';

export interface IsolationOptions extends GeneratorOptions {
  customers?: number;
  batchesPerCustomer?: number;
}

/**
 * Many customers at once, all using the same idempotency keys (`batch-000001`...) for different
 * content in the same minutes: keys are scoped per customer, so every batch is accepted (202)
 * and each customer's windows hold its own requests only. Finally the first customer reuses a
 * key with other content: 422, and nothing is overwritten or counted.
 */
export function scenarioCustomerIsolation(options: IsolationOptions = {}): Scenario {
  const customers = Array.from({ length: options.customers ?? 6 }, (_, i) => customerId(`cus-iso-${i + 1}`, options));
  const perCustomer = options.batchesPerCustomer ?? 150;
  const random = seededRandom(4004);
  const entryFor = (c: number): LogEntry => ({
    receivedAt: isoAt('2025-09-15', 12, Math.floor(random() * 5), Math.floor(random() * 60), Math.floor(random() * 1000)),
    method: 'GET',
    path: `/tenant-${c + 1}/page-${Math.floor(random() * 5)}`,
    userAgent: USER_AGENTS[(c + Math.floor(random() * 3)) % USER_AGENTS.length][0],
  });
  const sends: Send[] = [];
  for (let b = 1; b <= perCustomer; b++) {
    customers.forEach((customer, c) => {
      const entries = Array.from({ length: 20 }, () => entryFor(c));
      sends.push({ customerId: customer, idempotencyKey: `batch-${pad(b, 6)}`, body: jsonBody(entries), contentType: JSON_CONTENT_TYPE, entries, expect: { kind: 'accepted' } });
    });
  }
  const reused = Array.from({ length: 20 }, () => entryFor(0));
  sends.push({ customerId: customers[0], idempotencyKey: 'batch-000001', body: jsonBody(reused), contentType: JSON_CONTENT_TYPE, entries: reused, expect: { kind: 'refused', status: 422 } });
  return { id: '004_customer_isolation', title: 'many customers, overlapping idempotency keys', inFlight: 12, sends, families: userAgentTable(), customers };
}
