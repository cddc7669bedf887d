import { gzipSync } from 'node:zlib';
import type { LogEntry } from '@pipeline/entry';
import { USER_AGENTS, userAgentTable } from './user-agents';
import { customerId, GeneratorOptions, isoAt, JSON_CONTENT_TYPE, MAX_BODY_BYTES, pad, Scenario, seededRandom, Send } from './model';

const OFFSETS: ReadonlyArray<[text: string, minutes: number]> = [
  ['Z', 0],
  ['+05:30', 330],
  ['-08:00', -480],
  ['+00:00', 0],
  ['+14:00', 840],
];

const PATHS = ['/', '/café/menu', '/api/items?id=7', '/api/items#details', '/search?q=a#b', '/über-uns', '/api/items'];
const METHODS = ['GET', 'get', 'Post', 'POST', 'delete'];

/** `instantMs` written in local time at `offsetMinutes` from UTC, e.g. `2025-10-01T17:30:00.000+05:30`. */
export function withOffset(instantMs: number, offset: [string, number]): string {
  const [text, minutes] = offset;
  if (text === 'Z') return new Date(instantMs).toISOString();
  return new Date(instantMs + minutes * 60_000).toISOString().replace('Z', text);
}

/**
 * Gzip-compressed bodies carrying what normalization must handle: timestamps with offsets
 * (counted in their UTC minute), lower-case methods, query strings and fragments, non-ASCII
 * paths, extra fields, a charset parameter. Also a key-less batch sent twice (recognised by
 * its body hash) and a small gzip body that inflates past 2 MiB (413, never counted).
 */
export function scenarioGzip(options: GeneratorOptions & { batches?: number } = {}): Scenario {
  const customer = customerId('cus-gzip', options);
  const random = seededRandom(3003);
  const base = Date.parse('2025-10-01T12:00:00.000Z');
  const entry = (): LogEntry & { region?: string } => {
    const at = base + Math.floor(random() * 6 * 60_000);
    return {
      receivedAt: withOffset(at, OFFSETS[Math.floor(random() * OFFSETS.length)]),
      method: METHODS[Math.floor(random() * METHODS.length)],
      path: PATHS[Math.floor(random() * PATHS.length)],
      userAgent: USER_AGENTS[Math.floor(random() * USER_AGENTS.length)][0],
      region: 'eu-west-1',
    };
  };
  const gzipSend = (entries: LogEntry[], key: string | undefined, contentType = JSON_CONTENT_TYPE): Send => ({
    customerId: customer,
    idempotencyKey: key,
    body: gzipSync(Buffer.from(JSON.stringify(entries), 'utf8')),
    contentType,
    contentEncoding: 'gzip',
    entries,
    expect: { kind: 'accepted' },
  });

  const sends: Send[] = [];
  const count = options.batches ?? 300;
  for (let b = 1; b <= count; b++) {
    const entries = Array.from({ length: 40 }, entry);
    sends.push(gzipSend(entries, `gz-${pad(b, 5)}`, b % 3 === 0 ? 'application/json; charset=utf-8' : JSON_CONTENT_TYPE));
  }
  const keyless = gzipSend(Array.from({ length: 25 }, entry), undefined);
  sends.splice(Math.floor(count / 2), 0, keyless);
  sends.push({ ...keyless });

  // One valid entry in a far-away minute, then whitespace to 3 MiB: tiny on the wire, too large inflated.
  const bombEntry: LogEntry = { receivedAt: isoAt('2025-10-02', 0, 0, 0, 0), method: 'GET', path: '/bomb', userAgent: '' };
  const inflated = Buffer.concat([Buffer.from(`[${JSON.stringify(bombEntry)}`), Buffer.alloc(MAX_BODY_BYTES + MAX_BODY_BYTES / 2, 0x20), Buffer.from(']')]);
  sends.push({
    customerId: customer,
    idempotencyKey: 'gz-bomb',
    body: gzipSync(inflated),
    contentType: JSON_CONTENT_TYPE,
    contentEncoding: 'gzip',
    entries: [bombEntry],
    expect: { kind: 'refused', status: 413 },
  });
  return { id: '003_gzip_bodies', title: 'gzip bodies, offsets and normalization', inFlight: 4, sends, families: userAgentTable(), customers: [customer] };
}
