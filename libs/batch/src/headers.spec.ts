import { RawBatchHeaders, checkBatchHeaders, contentCodingOf, isJsonMediaType } from './headers';

const base: RawBatchHeaders = { customerId: 'cus-axon', idempotencyKey: undefined, contentType: 'application/json', contentEncoding: undefined };
const check = (h: Partial<RawBatchHeaders>) => checkBatchHeaders({ ...base, ...h });
const statusOf = (h: Partial<RawBatchHeaders>) => {
  const r = check(h);
  return r.ok ? 'ok' : `${r.rejection.status} ${r.rejection.code}`;
};

describe('checkBatchHeaders', () => {
  it('accepts a customer without an idempotency key', () => {
    expect(check({})).toEqual({ ok: true, value: { customerId: 'cus-axon', contentEncoding: 'identity' } });
  });

  it('accepts an idempotency key and gzip', () => {
    expect(check({ idempotencyKey: 'b-2025-12-28T18:03:00.000Z', contentEncoding: 'gzip' })).toEqual({
      ok: true,
      value: { customerId: 'cus-axon', idempotencyKey: 'b-2025-12-28T18:03:00.000Z', contentEncoding: 'gzip' },
    });
  });

  describe('x-customer-id', () => {
    it('is required (401), an empty value counting as missing', () => {
      expect(statusOf({ customerId: undefined })).toBe('401 missing_customer_id');
      expect(statusOf({ customerId: '' })).toBe('401 missing_customer_id');
    });
    it.each(['a', 'A.b_c-9', 'x'.repeat(64)])('accepts %p', (customerId) => {
      expect(statusOf({ customerId })).toBe('ok');
    });
    it.each(['..', '.', '../x', 'a/b', 'a\\b', 'x'.repeat(65), 'cus axon', 'cus:axon', 'ünï', 'a%2Fb', 'a\u0000b', ['a', 'b']])('rejects %p with 400', (customerId) => {
      expect(statusOf({ customerId })).toBe('400 invalid_customer_id');
    });
    it('is checked before anything else', () => {
      expect(statusOf({ customerId: undefined, idempotencyKey: '../x', contentType: 'text/plain' })).toBe('401 missing_customer_id');
    });
  });

  describe('idempotency-key', () => {
    it.each(['k', 'a:b.c_d-e', 'x'.repeat(128), '2025-12-28T18:03:00Z', '...'])('accepts %p', (idempotencyKey) => {
      expect(statusOf({ idempotencyKey })).toBe('ok');
    });
    it.each(['', '..', '.', '../x', 'a/b', '/abs', 'x'.repeat(129), 'a b', 'a%2F..', 'ключ', 'a?b', 'a#b', 'a\nb', ['a', 'b']])('rejects %p with 400', (idempotencyKey) => {
      expect(statusOf({ idempotencyKey })).toBe('400 invalid_idempotency_key');
    });
    it('is checked before the media type', () => {
      expect(statusOf({ idempotencyKey: 'a/b', contentType: 'text/plain' })).toBe('400 invalid_idempotency_key');
    });
  });

  describe('content-type', () => {
    it('answers 415 for a missing or non-JSON type', () => {
      for (const contentType of [undefined, '', 'text/plain', 'application/x-ndjson', 'application/jsonx', 'multipart/form-data']) {
        expect(statusOf({ contentType })).toBe('415 unsupported_media_type');
      }
    });
  });

  describe('content-encoding', () => {
    it('answers 415 for codings it does not decode', () => {
      for (const contentEncoding of ['br', 'deflate', 'zstd', 'gzip, gzip', 'gzip,br', ['gzip', 'gzip']]) {
        expect(statusOf({ contentEncoding })).toBe('415 unsupported_content_encoding');
      }
    });
  });
});

describe('isJsonMediaType', () => {
  it.each([
    'application/json',
    'Application/JSON',
    'application/json; charset=utf-8',
    'application/json;charset=UTF-8',
    'application/json ; charset="utf-8"',
    'application/json; charset=utf8',
    'application/json; foo=bar',
    'application/json;',
  ])('accepts %p', (ct) => {
    expect(isJsonMediaType(ct)).toBe(true);
  });

  it.each([
    undefined,
    '',
    'application/json; charset=iso-8859-1',
    'application/json; charset=utf-16',
    'application/json; charset',
    'application/json; charset=',
    'application/json, text/plain',
    'text/json',
    'application/problem+json',
    ['application/json', 'application/json'],
  ])('rejects %p', (ct) => {
    expect(isJsonMediaType(ct)).toBe(false);
  });
});

describe('contentCodingOf', () => {
  it.each([
    [undefined, 'identity'],
    ['', 'identity'],
    ['identity', 'identity'],
    ['gzip', 'gzip'],
    [' GZIP ', 'gzip'],
    ['x-gzip', 'gzip'],
    ['deflate', null],
    ['compress', null],
  ])('%p -> %p', (header, coding) => {
    expect(contentCodingOf(header)).toBe(coding);
  });
});
