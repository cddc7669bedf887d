import { checkBatchHeaders, prepareBatch } from '@pipeline/batch';
import { UserAgentClassifier } from '@pipeline/entry';
import { summarizeRawBatch } from '@pipeline/partial';
import { batchIndices001, entry001, jsonBody } from '../scenarios';
import { largePool } from './section-large';
import { floodBody } from './section-noisy';

/**
 * The pure per-batch work of the two services that read every entry, without any server: the
 * ingestion's checks (UTF-8, JSON, every entry validated, sha256) and the summarizer's (JSON,
 * every entry validated and normalized, counted per minute, partials built). One process, one
 * core, the same bodies as the `large` and `noisy` sections and scenario 001's 20-entry batches. Prints
 * milliseconds per batch and microseconds per entry; `npm run bench:domain`.
 */
export function main(): number {
  const iterations = Number(process.env.BENCH_DOMAIN_ITERATIONS ?? 200);
  const large = largePool(Number(process.env.BENCH_LARGE_ENTRIES ?? 11_000), 1).items[0];
  const small = jsonBody(batchIndices001(1).map(entry001));
  const flood = floodBody(0, 4_000, 1_600_000, '2024-03-03T12:00');
  const headers = checkBatchHeaders({ customerId: 'cus-bench', idempotencyKey: 'b-1', contentType: 'application/json', contentEncoding: undefined });
  if (!headers.ok) throw new Error('benchmark headers refused');
  const classifier = new UserAgentClassifier(10_000);
  const options = { familyOf: classifier.familyOf, maxPartialBytes: 512 * 1024 };

  console.log(`[bench domain] Node.js ${process.version}; ${iterations} iterations of each (the first tenth as warm-up, not measured)`);
  for (const [name, body, entries] of [
    [`${large.entries}-entry batch (${(large.body.length / 2 ** 20).toFixed(2)} MiB)`, large.body, large.entries],
    [`noisy section's ${flood.entries}-entry batch of 4,000 paths (${(flood.body.length / 2 ** 20).toFixed(2)} MiB)`, flood.body, flood.entries],
    ['20-entry batch', small, 20],
  ] as const) {
    const text = body.toString('utf8');
    const work = {
      'ingestion: prepareBatch': () => {
        if (!prepareBatch(headers.value, body).ok) throw new Error('batch refused');
      },
      'summarizer: summarizeRawBatch': () => {
        if (!summarizeRawBatch({ customerId: 'cus-bench', batchId: 'b-1' }, text, options).ok) throw new Error('batch refused');
      },
    };
    for (const [label, run] of Object.entries(work)) {
      const runs = entries > 1000 ? iterations : iterations * 50;
      for (let i = 0; i < runs / 10; i++) run();
      const started = process.hrtime.bigint();
      for (let i = 0; i < runs; i++) run();
      const ms = Number(process.hrtime.bigint() - started) / 1e6 / runs;
      console.log(`[bench domain] ${name}, ${label}: ${ms.toFixed(3)} ms per batch, ${((ms * 1000) / entries).toFixed(2)} µs per entry, ${Math.round((entries / ms) * 1000).toLocaleString('en-US')} entries/s`);
    }
  }
  return 0;
}
