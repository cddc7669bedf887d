import Ajv2020, { ValidateFunction } from 'ajv/dist/2020';
import { gatewayTokenHash } from '@pipeline/batch';
import { AppProcess, deleteTopics, freePort, startApp } from '@pipeline/testing';
import { request } from 'node:http';
import { gzipSync } from 'node:zlib';
import { appEnv, dropBucket, entry, IT_GATEWAY_TOKEN, itKafka, itNames, postLogs, PostResult } from './it-support';

jest.setTimeout(180_000);

interface HeaderSpec {
  required?: boolean;
  schema: object;
}
interface OperationSpec {
  parameters: { name: string; in: string; required?: boolean; schema: object }[];
  responses: Record<string, { headers?: Record<string, HeaderSpec>; content?: Record<string, unknown> }>;
}

const SCOPED = 'gateway-scoped-0123456789abcdef';
const body = (...entries: unknown[]) => Buffer.from(JSON.stringify(entries));

/**
 * GET /openapi.json of a running batch-ingestion, and every answer of POST /logs checked against
 * it: status documented, JSON, body valid against the documented schema, documented headers
 * present and valid. The requests come from a real process on the real stack, one per status.
 */
describe('batch-ingestion OpenAPI document against real answers', () => {
  const names = itNames('ingest-openapi');
  const idle = itNames('ingest-openapi-idle');
  let app: AppProcess;
  let unprovisioned: AppProcess;
  let doc: { openapi: string; paths: { '/logs': { post: OperationSpec } } };
  let operation: OperationSpec;
  const ajv = new Ajv2020({ strict: true, allErrors: true });
  ajv.addVocabulary(['openapi', 'info', 'paths', 'components']);
  const validators = new Map<string, ValidateFunction>();
  const validatorAt = (pointer: string) => {
    if (!validators.has(pointer)) validators.set(pointer, ajv.compile({ $ref: `served.json#${pointer}` }));
    return validators.get(pointer)!;
  };
  const seen = new Set<number>();

  /** Checks one answer against the served document; returns the problems (none when it conforms). */
  function conformance(res: PostResult): unknown[] {
    seen.add(res.status);
    const response = operation.responses[String(res.status)];
    if (!response) return [`status ${res.status} is not documented`];
    const problems: unknown[] = [];
    if (!/^application\/json\b/.test(res.headers.get('content-type') ?? '')) problems.push(`content-type ${res.headers.get('content-type')}`);
    const validate = validatorAt(`/paths/~1logs/post/responses/${res.status}/content/application~1json/schema`);
    if (!validate(res.body)) problems.push(...(validate.errors ?? []));
    for (const [name, spec] of Object.entries(response.headers ?? {})) {
      const value = res.headers.get(name);
      if (value === null) {
        if (spec.required) problems.push(`header ${name} missing`);
        continue;
      }
      const check = ajv.compile(spec.schema);
      if (!check(value)) problems.push({ header: name, value, errors: check.errors });
    }
    return problems;
  }

  /** Whether a request header value is what the document's parameter schema allows. */
  const parameterAllows = (name: string, value: string) => validatorAt(`/paths/~1logs/post/parameters/${operation.parameters.findIndex((p) => p.name === name)}/schema`)(value);
  /** Every request of its own customer: the per-customer rate limit is kept low for the 429 case. */
  let customers = 0;
  const customer = (label: string) => `cus-${label}-${++customers}`;

  beforeAll(async () => {
    app = await startApp(
      'batch-ingestion',
      appEnv(names, {
        GATEWAY_TOKENS: `scoped=${gatewayTokenHash(SCOPED)}@cus-one`,
        HTTP_BODY_TIMEOUT_MS: '1000',
        RATE_LIMIT_PER_CUSTOMER: '2',
        RATE_LIMIT_PER_CUSTOMER_BURST: '2',
      }),
    );
    // Its S3 never answers: live, never provisioned, so every valid batch gets 503.
    unprovisioned = await startApp('batch-ingestion', appEnv(idle, { S3_ENDPOINT: `http://127.0.0.1:${await freePort()}`, S3_REQUEST_TIMEOUT_MS: '500' }), { waitFor: 'live' });
    const res = await fetch(`${app.url}/openapi.json`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    doc = (await res.json()) as typeof doc;
    ajv.addSchema({ $id: 'served.json', ...doc } as object);
    operation = doc.paths['/logs'].post;
  });

  afterAll(async () => {
    await app?.stop();
    await unprovisioned?.stop();
    await deleteTopics(itKafka(), [names.topic, idle.topic]);
    await dropBucket(names.bucket);
  });

  it('serves OpenAPI 3.1 without a token, also when the service is not ready', async () => {
    expect(doc.openapi).toBe('3.1.0');
    const fromIdle = await fetch(`${unprovisioned.url}/openapi.json`);
    expect(fromIdle.status).toBe(200);
    expect(await fromIdle.json()).toEqual(doc);
    expect(Object.keys(operation.responses)).toEqual(expect.arrayContaining(['202', '400', '401', '403', '408', '409', '413', '415', '422', '429', '503']));
  });

  it('202 and 409: a batch and its repeat; the request itself conforms to the document', async () => {
    const headers = { 'x-customer-id': 'cus-accept', 'idempotency-key': 'openapi-1' };
    expect(parameterAllows('x-customer-id', headers['x-customer-id'])).toBe(true);
    expect(parameterAllows('idempotency-key', headers['idempotency-key'])).toBe(true);
    expect(validatorAt('/paths/~1logs/post/requestBody/content/application~1json/schema')([entry(), entry({ method: 'post' })])).toBe(true);
    const accepted = await postLogs(app.url, body(entry(), entry({ method: 'post' })), headers);
    expect([accepted.status, conformance(accepted)]).toEqual([202, []]);
    const repeated = await postLogs(app.url, body(entry(), entry({ method: 'post' })), headers);
    expect([repeated.status, conformance(repeated)]).toEqual([409, []]);
    // Without a key, a gzip body: the derived id is a valid batch id too.
    const derived = await postLogs(app.url, gzipSync(body(entry())), { 'x-customer-id': 'cus-accept-gz', 'content-encoding': 'gzip' });
    expect([derived.status, conformance(derived)]).toEqual([202, []]);
  });

  it.each([
    ['invalid entries', body(entry({ receivedAt: 'yesterday' }), entry({ path: 'nope' })), {}, 'invalid_entries'],
    ['not JSON', Buffer.from('[{'), {}, 'invalid_json'],
    ['an object instead of an array', Buffer.from('{}'), {}, 'not_an_array'],
    ['an empty array', Buffer.from('[]'), {}, 'empty_batch'],
    ['a malformed customer id', body(entry()), { 'x-customer-id': 'cus/../x' }, 'invalid_customer_id'],
    ['a malformed idempotency key', body(entry()), { 'idempotency-key': 'a b' }, 'invalid_idempotency_key'],
  ])('400 for %s', async (_label, payload, headers, code) => {
    const res = await postLogs(app.url, payload, { 'x-customer-id': customer('bad'), ...headers });
    expect([res.status, res.body?.error?.code, conformance(res)]).toEqual([400, code, []]);
  });

  it('400 request headers the document itself refuses', () => {
    expect(parameterAllows('x-customer-id', 'cus/../x')).toBe(false);
    expect(parameterAllows('x-customer-id', '..')).toBe(false);
    expect(parameterAllows('idempotency-key', 'a b')).toBe(false);
  });

  it.each([
    ['no token', { authorization: undefined }, 'unauthorized'],
    ['an unknown token', { authorization: 'Bearer not-a-known-token-0123456789' }, 'unauthorized'],
    ['no customer id', { 'x-customer-id': undefined }, 'missing_customer_id'],
  ])('401 for %s, with WWW-Authenticate when the token is the problem', async (_label, headers, code) => {
    const res = await postLogs(app.url, body(entry()), { 'x-customer-id': customer('who'), ...headers });
    expect([res.status, res.body?.error?.code, conformance(res)]).toEqual([401, code, []]);
    if (code === 'unauthorized') expect(res.headers.get('www-authenticate')).toBe('Bearer realm="log-analytics"');
  });

  it('403 for a token outside its customers', async () => {
    const res = await postLogs(app.url, body(entry()), { authorization: `Bearer ${SCOPED}`, 'x-customer-id': 'cus-two' });
    expect([res.status, conformance(res)]).toEqual([403, []]);
  });

  it('408 for a body that stops arriving', async () => {
    const res = await new Promise<PostResult>((resolve, reject) => {
      const req = request(`${app.url}/logs`, {
        method: 'POST',
        headers: { authorization: `Bearer ${IT_GATEWAY_TOKEN}`, 'x-customer-id': 'cus-slow', 'content-type': 'application/json', 'content-length': '1000' },
      });
      req.on('response', (r) => {
        let text = '';
        r.on('data', (c) => (text += c));
        r.on('end', () => resolve({ status: r.statusCode!, headers: new Headers(r.headers as Record<string, string>), body: JSON.parse(text) }));
      });
      req.on('error', reject);
      req.write('[{"receivedAt":');
    });
    expect([res.status, conformance(res)]).toEqual([408, []]);
  });

  it('413 for a body above 2 MiB', async () => {
    const res = await postLogs(app.url, Buffer.alloc(2 * 1024 * 1024 + 1, 0x20), { 'x-customer-id': 'cus-big' });
    expect([res.status, conformance(res)]).toEqual([413, []]);
  });

  it.each([
    ['text/plain', { 'content-type': 'text/plain' }, 'unsupported_media_type'],
    ['a latin-1 charset', { 'content-type': 'application/json; charset=iso-8859-1' }, 'unsupported_media_type'],
    ['brotli', { 'content-encoding': 'br' }, 'unsupported_content_encoding'],
  ])('415 for %s', async (_label, headers, code) => {
    const res = await postLogs(app.url, body(entry()), { 'x-customer-id': customer('media'), ...headers });
    expect([res.status, res.body?.error?.code, conformance(res)]).toEqual([415, code, []]);
  });

  it('422 for a key reused with another body', async () => {
    const headers = { 'x-customer-id': 'cus-reuse', 'idempotency-key': 'reused-1' };
    expect((await postLogs(app.url, body(entry()), headers)).status).toBe(202);
    const res = await postLogs(app.url, body(entry({ path: '/other' })), headers);
    expect([res.status, conformance(res)]).toEqual([422, []]);
  });

  it('429 with Retry-After beyond the customer\'s rate', async () => {
    const answers = await Promise.all(Array.from({ length: 6 }, (_, i) => postLogs(app.url, body(entry()), { 'x-customer-id': 'cus-rate', 'idempotency-key': `rate-${i}` })));
    const limited = answers.filter((a) => a.status === 429);
    expect(limited.length).toBeGreaterThan(0);
    for (const a of answers) expect([a.status, conformance(a)]).toEqual([a.status, []]);
  });

  it('503 with Retry-After while storage is unavailable', async () => {
    const res = await postLogs(unprovisioned.url, body(entry()), { 'x-customer-id': 'cus-wait' });
    expect([res.status, conformance(res)]).toEqual([503, []]);
  });

  it('met every documented status but 500 (a defect) in these requests', () => {
    expect([...seen].sort()).toEqual([202, 400, 401, 403, 408, 409, 413, 415, 422, 429, 503]);
  });
});
