import { CUSTOMER_ID, IDEMPOTENCY_KEY } from '@pipeline/contract';
import { JsonSchema, logEntrySchema, MAX_REPORTED_ERRORS } from '@pipeline/entry';
import { MAX_BATCH_BYTES } from './body';
import { ErrorCode, REJECTION_STATUS, SERVICE_ERROR_STATUS } from './rejection';

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

/** The error codes answered with `status`, from the same tables the checks and the handler use. */
export function errorCodesFor(status: number): ErrorCode[] {
  const all = { ...REJECTION_STATUS, ...SERVICE_ERROR_STATUS } as Record<ErrorCode, number>;
  return (Object.keys(all) as ErrorCode[]).filter((code) => all[code] === status).sort();
}

/** `{ error: { code, message, details? } }` with the codes of `status`. */
function errorSchema(status: number, extra: JsonSchema = {}): JsonSchema {
  return {
    type: 'object',
    required: ['error'],
    additionalProperties: false,
    properties: {
      error: {
        type: 'object',
        required: ['code', 'message'],
        additionalProperties: false,
        properties: {
          code: { type: 'string', enum: errorCodesFor(status) },
          message: { type: 'string', description: 'For humans; may change between releases.' },
          details: {},
        },
        ...extra,
      },
    },
  };
}

const header = (description: string, schema: JsonSchema) => ({ description, schema });
const RETRY_AFTER = header('Seconds to wait before retrying.', { type: 'string', pattern: '^[0-9]+$' });
const json = (schema: JsonSchema) => ({ 'application/json': { schema } });
const error = (status: number, description: string, headers?: Record<string, unknown>) => ({
  description,
  ...(headers ? { headers } : {}),
  content: json(ref(`Error${status}`)),
});

/**
 * The OpenAPI 3.1 document of `POST /logs`, served at `GET /openapi.json`. Built from the
 * definitions the service validates with (the entry schema, the id patterns, the rejection
 * tables), and checked against real answers of a running service in the integration tests.
 */
export function logsOpenApiDocument(): JsonSchema {
  const notDots = { not: { enum: ['.', '..'] } };
  return {
    openapi: '3.1.0',
    info: {
      title: 'Log analytics: batch ingestion',
      version: '1',
      description:
        'Authenticated API gateways send batches of HTTP access-log entries; they are stored durably and counted exactly once in per-customer, per-minute aggregates. Every answer is JSON. Retrying a request is always safe: a repeated batch is recognised by its batch id.',
    },
    paths: {
      '/logs': {
        post: {
          operationId: 'postLogs',
          summary: 'Send a batch of access-log entries',
          security: [{ gatewayToken: [] }],
          parameters: [
            {
              name: 'x-customer-id',
              in: 'header',
              required: true,
              description: 'The customer the batch belongs to, set by the authenticating gateway. Missing: 401; malformed: 400.',
              schema: { type: 'string', pattern: CUSTOMER_ID.source, ...notDots },
            },
            {
              name: 'idempotency-key',
              in: 'header',
              required: false,
              description:
                "The batch id, scoped per customer. Without it the batch id is derived from the body's SHA-256, so an identical retry is still recognised.",
              schema: ref('BatchId'),
            },
            {
              name: 'content-encoding',
              in: 'header',
              required: false,
              description: `gzip is decoded; the ${MAX_BATCH_BYTES}-byte limit applies to the decoded body too.`,
              schema: { type: 'string', enum: ['gzip', 'x-gzip', 'identity'] },
            },
          ],
          requestBody: {
            required: true,
            description: `A JSON array of 1 or more entries, at most ${MAX_BATCH_BYTES} bytes (2 MiB), UTF-8. Content-Type application/json (a charset parameter, if any, must be utf-8), else 415. One invalid entry refuses the whole batch (400).`,
            content: json(ref('Batch')),
          },
          responses: {
            '202': { description: 'Accepted: stored durably and announced for counting.', content: json(ref('Accepted')) },
            '400': error(400, 'The batch or a header is malformed; `invalid_entries` lists the problems by entry index and field.'),
            '401': error(401, 'No or an unknown gateway token, or no x-customer-id.', {
              'WWW-Authenticate': header('The scheme to use.', { type: 'string', const: 'Bearer realm="log-analytics"' }),
            }),
            '403': error(403, 'The gateway token may not send batches for this customer.'),
            '408': error(408, 'The body did not arrive in time; the connection is closed.'),
            '409': { description: 'This customer already sent this batch id with the same content: nothing more to do.', content: json(ref('Duplicate')) },
            '413': error(413, `The body, before or after decoding, exceeds ${MAX_BATCH_BYTES} bytes.`),
            '415': error(415, 'Content-Type is not application/json (utf-8), or Content-Encoding is not gzip or identity.'),
            '422': error(422, 'The idempotency key was used before for a different body; the stored batch is unchanged.'),
            '429': error(429, 'Over a limit of this customer (requests or body bytes a second, bytes being received at once) or of this gateway token (requests a second); `details` says which ({ scope, limit }).', { 'Retry-After': { ...RETRY_AFTER, required: true } }),
            '500': error(500, 'Unexpected error; retrying is safe.'),
            '503': error(503, 'Storage or the event bus is unavailable or not ready, or the service is busy; retrying is safe.', {
              'Retry-After': { ...RETRY_AFTER, required: true },
            }),
          },
        },
      },
    },
    components: {
      securitySchemes: {
        gatewayToken: { type: 'http', scheme: 'bearer', description: 'The gateway token (Authorization: Bearer <token>).' },
      },
      schemas: {
        LogEntry: logEntrySchema(),
        Batch: { type: 'array', minItems: 1, items: ref('LogEntry') },
        BatchId: { type: 'string', pattern: IDEMPOTENCY_KEY.source, not: { enum: ['.', '..'] } },
        Accepted: {
          type: 'object',
          required: ['batchId', 'entries'],
          additionalProperties: false,
          properties: { batchId: ref('BatchId'), entries: { type: 'integer', minimum: 1 } },
        },
        Duplicate: {
          type: 'object',
          required: ['batchId', 'status'],
          additionalProperties: false,
          properties: { batchId: ref('BatchId'), status: { const: 'duplicate' } },
        },
        EntryError: {
          type: 'object',
          required: ['index', 'field', 'reason'],
          additionalProperties: false,
          properties: {
            index: { type: 'integer', minimum: 0 },
            field: { type: 'string', description: 'The field, or "" when the entry itself is wrong (not an object).' },
            reason: { type: 'string' },
          },
        },
        Error400: errorSchema(400, {
          if: { properties: { code: { const: 'invalid_entries' } } },
          then: {
            required: ['details'],
            properties: {
              details: {
                type: 'object',
                required: ['errors', 'errorCount'],
                additionalProperties: false,
                properties: {
                  errors: { type: 'array', minItems: 1, maxItems: MAX_REPORTED_ERRORS, items: ref('EntryError') },
                  errorCount: { type: 'integer', minimum: 1 },
                },
              },
            },
          },
        }),
        Error401: errorSchema(401),
        Error403: errorSchema(403),
        Error408: errorSchema(408),
        Error413: errorSchema(413),
        Error415: errorSchema(415),
        Error422: errorSchema(422, {
          required: ['code', 'message', 'details'],
          properties: {
            code: { type: 'string', enum: errorCodesFor(422) },
            message: { type: 'string' },
            details: { type: 'object', required: ['batchId'], additionalProperties: false, properties: { batchId: ref('BatchId') } },
          },
        }),
        Error429: errorSchema(429),
        Error500: errorSchema(500),
        Error503: errorSchema(503),
      },
    },
  };
}
