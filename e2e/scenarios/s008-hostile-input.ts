import type { LogEntry } from '@pipeline/entry';
import { CHROME, CURL, FIREFOX, GOOGLEBOT, userAgentTable } from './user-agents';
import { customerId, GeneratorOptions, isoAt, JSON_CONTENT_TYPE, jsonBody, MAX_BODY_BYTES, pad, Scenario, Send } from './model';

/** The same client spelled three ways: one family. */
export const CURL_SPELLINGS: ReadonlyArray<readonly [string, string]> = [
  ['CURL/8.5.0', 'curl'],
  ['Curl/7.68.0', 'curl'],
];

export interface HostileOptions extends GeneratorOptions {
  /** Batches of 2,000 new paths each that fill one minute with distinct paths (25 gives 50,000). */
  distinctPathBatches?: number;
}

const DAY = '2025-12-28';
const ok = (minute: number, i: number, path: string, userAgent = CURL): LogEntry => ({
  receivedAt: isoAt(DAY, 20, minute, i % 60, i % 1000),
  method: 'GET',
  path,
  userAgent,
});

/**
 * What a hostile but ordinary client sends, each kind once, alongside a steady customer:
 * - bodies the ingestion must refuse with 400 because they could not be counted exactly: a lone
 *   surrogate in a path or a user agent (`"\ud800"` in the JSON), timestamps outside 1970-2105;
 * - a valid body of almost 2 MiB whose 1,010 entries all have distinct ~1,900-character paths in
 *   one minute (one partial larger than a Kafka message: it is split into parts);
 * - batches that put 50,000 distinct paths into one minute (the aggregator keeps 10,000 of them and
 *   counts the rest under `(other)`);
 * - one client spelled `curl`, `CURL` and `Curl`, which is one user-agent family.
 * Everything accepted must come out counted exactly; the steady customer too.
 */
export function scenarioHostileInput(options: HostileOptions = {}): Scenario {
  const hostile = customerId('cus-hostile', options);
  const steady = customerId('cus-steady', options);
  const sends: Send[] = [];
  const send = (customer: string, key: string, body: Buffer, entries: LogEntry[], expect: Send['expect']) =>
    sends.push({ customerId: customer, idempotencyKey: key, body, contentType: JSON_CONTENT_TYPE, entries, expect });

  // Refused: the raw JSON carries the escapes a hostile client would put on the wire.
  const valid = JSON.stringify(ok(0, 0, '/fine'));
  const refusedBodies: [string, string][] = [
    ['surrogate-path', `[${valid},{"receivedAt":"2025-12-28T20:00:01Z","method":"GET","path":"/\\ud800","userAgent":"curl/8.5.0"}]`],
    ['surrogate-ua', `[${valid},{"receivedAt":"2025-12-28T20:00:02Z","method":"GET","path":"/x","userAgent":"bot \\udfff"}]`],
    ...['0001-01-01T00:00:00Z', '1900-01-01T00:00:00Z', '1950-06-15T12:00:00Z', '2200-01-01T00:00:00Z'].map(
      (t, i): [string, string] => [`range-${i}`, `[${valid},${JSON.stringify({ ...ok(0, 1, '/old'), receivedAt: t })}]`],
    ),
  ];
  for (const [key, text] of refusedBodies) send(hostile, `refused-${key}`, Buffer.from(text, 'utf8'), [], { kind: 'refused', status: 400 });

  // One minute, 1,010 distinct paths of ~1,900 characters: a body just under 2 MiB.
  const wide: LogEntry[] = Array.from({ length: 1_010 }, (_, i) => ok(1, i, `/wide/${pad(i, 4)}/${'w'.repeat(1_900)}`));
  const wideBody = jsonBody(wide);
  if (wideBody.length > MAX_BODY_BYTES) throw new Error(`the wide batch is ${wideBody.length} bytes, above the limit`);
  send(hostile, 'wide-paths', wideBody, wide, { kind: 'accepted' });

  // One minute, 2,000 new distinct paths per batch.
  const batches = options.distinctPathBatches ?? 25;
  for (let b = 0; b < batches; b++) {
    const entries = Array.from({ length: 2_000 }, (_, i) => ok(2, i, `/item/${b * 2_000 + i}`, [CHROME, FIREFOX, GOOGLEBOT, CURL][i % 4]));
    send(hostile, `distinct-${pad(b, 3)}`, jsonBody(entries), entries, { kind: 'accepted' });
  }

  // One client, three spellings.
  const spelled = [CURL, ...CURL_SPELLINGS.map(([ua]) => ua)].flatMap((ua, s) => Array.from({ length: 10 }, (_, i) => ok(3, s * 10 + i, '/spelled', ua)));
  send(hostile, 'curl-spellings', jsonBody(spelled), spelled, { kind: 'accepted' });

  // The steady customer's ordinary traffic, interleaved.
  for (let b = 0; b < 20; b++) {
    const entries = Array.from({ length: 20 }, (_, i) => ok(4 + (b % 3), i, ['/', '/about', '/careers'][i % 3], [CHROME, CURL][i % 2]));
    sends.splice(Math.min(sends.length, b * 2), 0, { customerId: steady, idempotencyKey: `steady-${pad(b, 3)}`, body: jsonBody(entries), contentType: JSON_CONTENT_TYPE, entries, expect: { kind: 'accepted' } });
  }

  return {
    id: '008_hostile_input',
    title: 'input that must be refused, split or folded, next to ordinary traffic',
    inFlight: 4,
    sends,
    families: new Map([...userAgentTable(), ...CURL_SPELLINGS]),
    customers: [hostile, steady],
  };
}
