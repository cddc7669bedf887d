import { EARLIEST_EVENT_MS, isStorableEventTime, LATEST_EVENT_MS } from '@pipeline/window';
import { LogEntry } from './entry';

/** One problem with one entry of a batch: which entry, which field, and why. */
export interface EntryError {
  index: number;
  field: string;
  reason: string;
}

export const MAX_PATH_CHARS = 2048;
export const MAX_USER_AGENT_CHARS = 1024;
/** How many problems a rejected batch reports; enough to fix a client, small enough to log. */
export const MAX_REPORTED_ERRORS = 20;

/** RFC 9110 `token`: the grammar of an HTTP method. */
export const HTTP_METHOD_TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * RFC 3339 `date-time`. The offset is mandatory: a local time without one names no instant, so
 * it could not be put into a UTC minute window. `t`/`z` may be lower case (RFC 3339 section 5.6).
 */
export const RFC3339_TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const daysInMonth = (year: number, month: number) =>
  month === 2 && year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : DAYS_IN_MONTH[month - 1];

/**
 * Epoch milliseconds of an RFC 3339 timestamp, or null when it is not one (no offset, impossible
 * date, out-of-range field). Fractions finer than a millisecond are truncated. Computed from the
 * fields rather than with `Date.parse`, whose accepted forms vary and include offset-less ones.
 */
export function parseTimestamp(text: string): number | null {
  const m = RFC3339_TIMESTAMP.exec(text);
  if (!m) return null;
  const year = +m[1];
  const month = +m[2];
  const day = +m[3];
  const hour = +m[4];
  const minute = +m[5];
  const second = +m[6];
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return null;
  // Leap seconds (:60) are refused: no clock the pipeline compares with can represent them.
  if (hour > 23 || minute > 59 || second > 59) return null;
  let offsetMinutes = 0;
  if (m[8] === undefined) {
    const offsetHours = +m[10];
    const offsetMins = +m[11];
    if (offsetHours > 23 || offsetMins > 59) return null;
    offsetMinutes = (m[9] === '-' ? -1 : 1) * (offsetHours * 60 + offsetMins);
  }
  const fraction = m[7];
  const millis = fraction === undefined ? 0 : fraction.length >= 3 ? +fraction.slice(0, 3) : +fraction * 10 ** (3 - fraction.length);
  let ms = Date.UTC(year, month - 1, day, hour, minute, second, millis);
  // Date.UTC reads years 0-99 as 1900-1999; move them back where they belong.
  if (year < 100) ms = new Date(ms).setUTCFullYear(year);
  return ms - offsetMinutes * 60_000;
}

/** An HTTP method as the pipeline counts it: the token in upper case (`get` and `GET` are one). */
export function normalizeMethod(method: string): string {
  return method.toUpperCase();
}

/** Length in Unicode code points, so a limit in characters does not penalize non-BMP text. */
function charLength(s: string, atMost: number): number {
  if (s.length <= atMost) return s.length; // code points never outnumber UTF-16 units
  let n = 0;
  for (const _ of s) n++;
  return n;
}

export const STORABLE_RANGE = `${new Date(EARLIEST_EVENT_MS).toISOString()} and ${new Date(LATEST_EVENT_MS).toISOString()}`;
/** A lone surrogate (`"\ud800"` in JSON) names no character: it could not be stored or counted as sent. */
const NOT_WELL_FORMED = 'must be well-formed Unicode (it holds a lone surrogate such as \\ud800)';

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Every problem of one entry (empty when it is valid). Fields other than the four are ignored. */
export function validateEntry(input: unknown, index: number): EntryError[] {
  if (!isObject(input)) return [{ index, field: '', reason: 'entry must be a JSON object' }];
  const errors: EntryError[] = [];
  const fail = (field: string, reason: string) => errors.push({ index, field, reason });

  const { receivedAt, method, path, userAgent } = input;
  if (receivedAt === undefined) fail('receivedAt', 'is required');
  else if (typeof receivedAt !== 'string') fail('receivedAt', 'must be a string');
  else {
    const ms = parseTimestamp(receivedAt);
    if (ms === null) fail('receivedAt', 'must be an RFC 3339 timestamp with Z or an offset, e.g. 2025-12-28T18:03:07.123Z');
    else if (!isStorableEventTime(ms)) fail('receivedAt', `must lie between ${STORABLE_RANGE} (UTC), the times the aggregates can hold exactly`);
  }

  if (method === undefined) fail('method', 'is required');
  else if (typeof method !== 'string') fail('method', 'must be a string');
  else if (!HTTP_METHOD_TOKEN.test(method)) fail('method', 'must be an HTTP method token, e.g. GET');

  if (path === undefined) fail('path', 'is required');
  else if (typeof path !== 'string') fail('path', 'must be a string');
  else if (!path.startsWith('/')) fail('path', "must start with '/'");
  else if (!path.isWellFormed()) fail('path', NOT_WELL_FORMED);
  else if (charLength(path, MAX_PATH_CHARS) > MAX_PATH_CHARS) fail('path', `must be at most ${MAX_PATH_CHARS} characters`);

  if (userAgent === undefined) fail('userAgent', 'is required');
  else if (typeof userAgent !== 'string') fail('userAgent', 'must be a string');
  else if (!userAgent.isWellFormed()) fail('userAgent', NOT_WELL_FORMED);
  else if (charLength(userAgent, MAX_USER_AGENT_CHARS) > MAX_USER_AGENT_CHARS) fail('userAgent', `must be at most ${MAX_USER_AGENT_CHARS} characters`);

  return errors;
}

export interface EntriesValidation {
  /** Total number of problems found (may exceed `errors.length`). */
  errorCount: number;
  /** The first `maxErrors` problems, in entry order. */
  errors: EntryError[];
}

/** Validates every entry; reports the first `maxErrors` problems and how many there were in all. */
export function validateEntries(entries: readonly unknown[], maxErrors = MAX_REPORTED_ERRORS): EntriesValidation {
  const errors: EntryError[] = [];
  let errorCount = 0;
  for (let i = 0; i < entries.length; i++) {
    const found = validateEntry(entries[i], i);
    errorCount += found.length;
    for (const e of found) if (errors.length < maxErrors) errors.push(e);
  }
  return { errorCount, errors };
}

/**
 * The entry as the pipeline uses it: the four fields only, the method upper-cased. Call it on
 * entries that passed validateEntry.
 */
export function toLogEntry(input: Record<string, unknown>): LogEntry {
  return {
    receivedAt: input.receivedAt as string,
    method: normalizeMethod(input.method as string),
    path: input.path as string,
    userAgent: input.userAgent as string,
  };
}
