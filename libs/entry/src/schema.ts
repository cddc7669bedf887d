import { HTTP_METHOD_TOKEN, MAX_METHOD_CHARS, MAX_PATH_CHARS, MAX_USER_AGENT_CHARS, RFC3339_TIMESTAMP, STORABLE_RANGE } from './validate';

/** A JSON Schema (draft 2020-12, the dialect of OpenAPI 3.1) as a plain object. */
export type JsonSchema = { [keyword: string]: unknown };

/**
 * One log entry as JSON Schema, built from the constants validateEntry checks with, so the
 * published contract and the validation cannot drift apart. JSON Schema cannot say everything
 * validateEntry checks; what it cannot (calendar dates, the storable time range, well-formed
 * Unicode) is in the descriptions, and a unit test pins down exactly those differences.
 */
export function logEntrySchema(): JsonSchema {
  return {
    type: 'object',
    description: 'One HTTP access-log entry. Fields other than these four are ignored.',
    required: ['receivedAt', 'method', 'path', 'userAgent'],
    properties: {
      receivedAt: {
        type: 'string',
        pattern: RFC3339_TIMESTAMP.source,
        description: `When the gateway received the request: an RFC 3339 timestamp with Z or an offset (an existing calendar date, no leap second), between ${STORABLE_RANGE} (UTC), not older than the retention when one is set and not further in the future than the allowed clock skew (a day by default). Its UTC minute is the entry's window.`,
        examples: ['2025-12-28T18:03:07.123Z', '2025-12-28T19:03:07+01:00'],
      },
      method: {
        type: 'string',
        pattern: HTTP_METHOD_TOKEN.source,
        maxLength: MAX_METHOD_CHARS,
        description: `HTTP method (an RFC 9110 token of at most ${MAX_METHOD_CHARS} characters); counted in upper case.`,
        examples: ['GET', 'post'],
      },
      path: {
        type: 'string',
        pattern: '^/',
        maxLength: MAX_PATH_CHARS,
        description: `Request path starting with "/", at most ${MAX_PATH_CHARS} characters of well-formed Unicode (no lone surrogate); query string and fragment are dropped for counting.`,
        examples: ['/api/users?page=2'],
      },
      userAgent: {
        type: 'string',
        maxLength: MAX_USER_AGENT_CHARS,
        description: `User-Agent header, at most ${MAX_USER_AGENT_CHARS} characters of well-formed Unicode; may be empty (counted as "Other").`,
        examples: ['curl/8.5.0'],
      },
    },
  };
}
