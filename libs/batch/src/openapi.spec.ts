import Ajv2020 from 'ajv/dist/2020';
import { validateEntry } from '@pipeline/entry';
import { errorCodesFor, logsOpenApiDocument } from './openapi';
import { REJECTION_STATUS, SERVICE_ERROR_STATUS } from './rejection';

const doc = logsOpenApiDocument() as {
  openapi: string;
  paths: { '/logs': { post: { responses: Record<string, { content?: Record<string, { schema: unknown }> }> } } };
  components: { schemas: Record<string, unknown> };
};
const ajv = new Ajv2020({ strict: true, allErrors: true });
// The document's own fields are no JSON Schema keywords; its schemas are reached through $ref.
ajv.addVocabulary(['openapi', 'info', 'paths', 'components']);
ajv.addSchema({ $id: 'logs.json', ...doc } as object);
const compiled = new Map<string, ReturnType<typeof ajv.compile>>();
const schemaOf = (name: string) => {
  if (!compiled.has(name)) compiled.set(name, ajv.compile({ $ref: `logs.json#/components/schemas/${name}` }));
  return compiled.get(name)!;
};

const entry = (over: Record<string, unknown> = {}) => ({ receivedAt: '2025-12-28T18:03:07.123Z', method: 'GET', path: '/', userAgent: 'curl/8.5.0', ...over });

/** Entries and whether validateEntry accepts them; the schema must agree unless noted. */
const CORPUS: Array<[string, unknown, boolean, 'both agree' | 'only the validator refuses']> = [
  ['a plain entry', entry(), true, 'both agree'],
  ['an offset instead of Z', entry({ receivedAt: '2025-12-28T19:03:07+01:00' }), true, 'both agree'],
  ['lower-case t and z, no fraction', entry({ receivedAt: '2025-12-28t18:03:07z' }), true, 'both agree'],
  ['a lower-case method', entry({ method: 'get' }), true, 'both agree'],
  ['an extension method', entry({ method: 'PROPFIND' }), true, 'both agree'],
  ['an empty user agent', entry({ userAgent: '' }), true, 'both agree'],
  ['extra fields', entry({ status: 200, bytes: 5 }), true, 'both agree'],
  ['a path of 2048 astral characters', entry({ path: '/' + '😀'.repeat(2047) }), true, 'both agree'],
  ['a user agent of 1024 characters', entry({ userAgent: 'a'.repeat(1024) }), true, 'both agree'],
  ['no offset', entry({ receivedAt: '2025-12-28T18:03:07' }), false, 'both agree'],
  ['a date only', entry({ receivedAt: '2025-12-28' }), false, 'both agree'],
  ['a number as time', entry({ receivedAt: 1766945000000 }), false, 'both agree'],
  ['a method with a space', entry({ method: 'GE T' }), false, 'both agree'],
  ['an empty method', entry({ method: '' }), false, 'both agree'],
  ['a path without /', entry({ path: 'api' }), false, 'both agree'],
  ['a path of 2049 characters', entry({ path: '/' + 'a'.repeat(2048) }), false, 'both agree'],
  ['a user agent of 1025 characters', entry({ userAgent: 'a'.repeat(1025) }), false, 'both agree'],
  ['a missing user agent', { receivedAt: '2025-12-28T18:03:07Z', method: 'GET', path: '/' }, false, 'both agree'],
  ['a null path', entry({ path: null }), false, 'both agree'],
  ['not an object', 'GET /', false, 'both agree'],
  ['an array', [entry()], false, 'both agree'],
  ['February 30', entry({ receivedAt: '2025-02-30T00:00:00Z' }), false, 'only the validator refuses'],
  ['hour 24', entry({ receivedAt: '2025-12-28T24:00:00Z' }), false, 'only the validator refuses'],
  ['a leap second', entry({ receivedAt: '2016-12-31T23:59:60Z' }), false, 'only the validator refuses'],
  ['before 1970', entry({ receivedAt: '1969-12-31T23:59:59Z' }), false, 'only the validator refuses'],
  ['after 2105', entry({ receivedAt: '2106-01-01T00:00:00Z' }), false, 'only the validator refuses'],
  ['a lone surrogate in the path', entry({ path: '/\ud800' }), false, 'only the validator refuses'],
  ['a lone surrogate in the user agent', entry({ userAgent: '\udc00' }), false, 'only the validator refuses'],
];

describe('the OpenAPI document of POST /logs', () => {
  it('is OpenAPI 3.1 whose schemas compile as JSON Schema 2020-12 in strict mode', () => {
    expect(doc.openapi).toBe('3.1.0');
    for (const name of Object.keys(doc.components.schemas)) expect(() => schemaOf(name)).not.toThrow();
  });

  it.each(CORPUS)('agrees with validateEntry on %s', (_label, input, valid, difference) => {
    expect(validateEntry(input, 0).length === 0).toBe(valid);
    const schemaAccepts = schemaOf('LogEntry')(input);
    expect(schemaAccepts).toBe(difference === 'only the validator refuses' ? true : valid);
  });

  it('lists every error code the service answers, under the status it is answered with', () => {
    const all = { ...REJECTION_STATUS, ...SERVICE_ERROR_STATUS };
    const responses = doc.paths['/logs'].post.responses;
    for (const [code, status] of Object.entries(all)) {
      expect([code, errorCodesFor(status)]).toEqual([code, expect.arrayContaining([code])]);
      expect([code, Object.keys(responses)]).toEqual([code, expect.arrayContaining([String(status)])]);
    }
    expect(Object.keys(responses).sort()).toEqual(['202', '400', '401', '403', '408', '409', '413', '415', '422', '429', '500', '503']);
  });

  it('describes the bodies the service sends: a refusal with entry errors, and not a stack trace', () => {
    const e400 = schemaOf('Error400');
    expect(e400({ error: { code: 'invalid_entries', message: 'm', details: { errors: [{ index: 0, field: 'path', reason: 'r' }], errorCount: 1 } } })).toBe(true);
    expect(e400({ error: { code: 'invalid_entries', message: 'm' } })).toBe(false);
    expect(e400({ error: { code: 'invalid_json', message: 'm' } })).toBe(true);
    expect(e400({ error: { code: 'unauthorized', message: 'm' } })).toBe(false);
    expect(e400({ error: { code: 'invalid_json', message: 'm', stack: 'at x' } })).toBe(false);
    expect(schemaOf('Accepted')({ batchId: 'b-1', entries: 3 })).toBe(true);
    expect(schemaOf('Duplicate')({ batchId: 'b-1', status: 'duplicate' })).toBe(true);
    expect(schemaOf('BatchId')('..')).toBe(false);
  });
});
