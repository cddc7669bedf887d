import { createHash } from 'node:crypto';
import { MAX_BATCH_BYTES, derivedBatchId, parseBatchBody, prepareBatch, sha256Hex } from './body';
import { isBatchId } from '@pipeline/contract';

const entry = { receivedAt: '2025-12-28T18:03:07.123Z', method: 'GET', path: '/', userAgent: 'curl/8.5.0' };
const bytes = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v));
const codeOf = (body: Uint8Array) => {
  const r = parseBatchBody(body);
  return r.ok ? `ok ${r.value.entries}` : `${r.rejection.status} ${r.rejection.code}`;
};

/** A JSON array of valid entries padded with whitespace to exactly `size` bytes. */
function bodyOfSize(size: number): Buffer {
  const json = JSON.stringify([entry, entry]);
  return Buffer.from(json.slice(0, -1) + ' '.repeat(size - json.length) + ']');
}

describe('parseBatchBody', () => {
  it('counts the entries of a valid batch', () => {
    expect(codeOf(bytes([entry, { ...entry, method: 'post' }, entry]))).toBe('ok 3');
  });

  it('accepts a leading byte-order mark and surrounding whitespace', () => {
    expect(codeOf(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), bytes(`\n [${JSON.stringify(entry)}] \n`)]))).toBe('ok 1');
  });

  it.each([
    ['invalid JSON', '[{"receivedAt": }]', '400 invalid_json'],
    ['truncated JSON', '[' + JSON.stringify(entry), '400 invalid_json'],
    ['empty body', '', '400 invalid_json'],
    ['trailing garbage', JSON.stringify([entry]) + 'x', '400 invalid_json'],
    ['an object', JSON.stringify(entry), '400 not_an_array'],
    ['a string', '"[]"', '400 not_an_array'],
    ['null', 'null', '400 not_an_array'],
    ['an empty array', '[]', '400 empty_batch'],
  ])('rejects %s', (_, body, code) => {
    expect(codeOf(bytes(body))).toBe(code);
  });

  it('rejects bytes that are not UTF-8', () => {
    expect(codeOf(Buffer.from([0x5b, 0x22, 0xff, 0x22, 0x5d]))).toBe('400 invalid_body');
  });

  it('rejects the whole batch for one invalid entry, listing index and field', () => {
    const r = parseBatchBody(bytes([entry, entry, { ...entry, receivedAt: '2025-12-28T18:03:07' }]));
    expect(r).toEqual({
      ok: false,
      rejection: {
        status: 400,
        code: 'invalid_entries',
        message: '1 problem(s) in the entries; the batch was not accepted.',
        details: { errorCount: 1, errors: [{ index: 2, field: 'receivedAt', reason: expect.stringContaining('RFC 3339') }] },
      },
    });
  });

  it('lists at most 20 problems', () => {
    const r = parseBatchBody(bytes(Array.from({ length: 25 }, () => ({ ...entry, path: 'x' }))));
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const details = r.rejection.details as { errors: unknown[]; errorCount: number };
    expect(details.errors).toHaveLength(20);
    expect(details.errorCount).toBe(25);
  });

  it('accepts exactly 2 MiB and refuses one byte more', () => {
    expect(bodyOfSize(MAX_BATCH_BYTES).byteLength).toBe(2_097_152);
    expect(codeOf(bodyOfSize(MAX_BATCH_BYTES))).toBe('ok 2');
    expect(codeOf(bodyOfSize(MAX_BATCH_BYTES + 1))).toBe('413 payload_too_large');
  });
});

describe('batch ids', () => {
  it('derives a valid, stable batch id from the sha256 of the body', () => {
    const body = bytes([entry]);
    const sha = createHash('sha256').update(body).digest('hex');
    expect(sha256Hex(body)).toBe(sha);
    expect(derivedBatchId(sha)).toBe(`sha256-${sha.slice(0, 32)}`);
    expect(isBatchId(derivedBatchId(sha))).toBe(true);
  });

  it('uses the idempotency key when there is one, the body digest otherwise', () => {
    const body = bytes([entry]);
    const sha = sha256Hex(body);
    const keyed = prepareBatch({ customerId: 'cus-a', idempotencyKey: 'k-1', contentEncoding: 'identity' }, body);
    const derived = prepareBatch({ customerId: 'cus-a', contentEncoding: 'identity' }, body);
    expect(keyed).toEqual({
      ok: true,
      value: { customerId: 'cus-a', batchId: 'k-1', objectKey: 'raw/cus-a/k-1.json', sha256: sha, entries: 1, bytes: body.byteLength, body },
    });
    expect(derived.ok && derived.value.batchId).toBe(`sha256-${sha.slice(0, 32)}`);
    expect(derived.ok && derived.value.objectKey).toBe(`raw/cus-a/sha256-${sha.slice(0, 32)}.json`);
  });

  it('gives different bodies different derived ids and identical bodies the same', () => {
    const a = prepareBatch({ customerId: 'c', contentEncoding: 'identity' }, bytes([entry]));
    const a2 = prepareBatch({ customerId: 'c', contentEncoding: 'identity' }, bytes([entry]));
    const b = prepareBatch({ customerId: 'c', contentEncoding: 'identity' }, bytes([{ ...entry, path: '/b' }]));
    expect(a.ok && a2.ok && a.value.batchId === a2.value.batchId).toBe(true);
    expect(a.ok && b.ok && a.value.batchId !== b.value.batchId).toBe(true);
  });

  it('passes a validation failure through without an id', () => {
    expect(prepareBatch({ customerId: 'c', contentEncoding: 'identity' }, bytes('[]'))).toMatchObject({ ok: false, rejection: { status: 400, code: 'empty_batch' } });
  });
});
