import { EARLIEST_EVENT_MS, isStorableEventTime, LATEST_EVENT_MS, retentionHorizonMs } from '@pipeline/window';

/** One problem with one entry of a batch: which entry, which field, and why. */
export interface EntryError {
  index: number;
  field: string;
  reason: string;
}

/** Every field is bounded, so whatever the door accepts fits every later stage (a partial, a row). */
export const MAX_METHOD_CHARS = 32;
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

/** Days from 1970-01-01 to a proleptic Gregorian date (month 1-12), any year (no 0-99 quirk). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1;
  return era * 146_097 + yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear - 719_468;
}

/** The ASCII digit at `i` as a number, or -1 (also past the end). */
const digitAt = (s: string, i: number) => {
  const d = s.charCodeAt(i) - 48;
  return d >= 0 && d <= 9 ? d : -1;
};
/** Two ASCII digits at `i` as a number, or -1. */
const twoDigitsAt = (s: string, i: number) => {
  const a = digitAt(s, i);
  const b = digitAt(s, i + 1);
  return a < 0 || b < 0 ? -1 : a * 10 + b;
};
/** Whether the character at `i` is `a` (or `b`). */
const charIs = (s: string, i: number, a: number, b = a) => {
  const c = s.charCodeAt(i);
  return c === a || c === b;
};

/**
 * Epoch milliseconds of an RFC 3339 timestamp (the grammar of RFC3339_TIMESTAMP), or null when it
 * is not one (no offset, impossible date, out-of-range field). Fractions finer than a millisecond
 * are truncated. Read character by character rather than with the regular expression or
 * `Date.parse` (whose accepted forms vary and include offset-less ones): every entry of every
 * batch is parsed, and this is the largest part of validating a batch.
 */
export function parseTimestamp(text: string): number | null {
  if (text.length < 20) return null;
  const century = twoDigitsAt(text, 0);
  const yearOfCentury = twoDigitsAt(text, 2);
  const month = twoDigitsAt(text, 5);
  const day = twoDigitsAt(text, 8);
  const hour = twoDigitsAt(text, 11);
  const minute = twoDigitsAt(text, 14);
  const second = twoDigitsAt(text, 17);
  if ((century | yearOfCentury | month | day | hour | minute | second) < 0) return null;
  if (!charIs(text, 4, 0x2d) || !charIs(text, 7, 0x2d) || !charIs(text, 10, 0x54, 0x74) || !charIs(text, 13, 0x3a) || !charIs(text, 16, 0x3a)) return null;
  const year = century * 100 + yearOfCentury;
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return null;
  // Leap seconds (:60) are refused: no clock the pipeline compares with can represent them.
  if (hour > 23 || minute > 59 || second > 59) return null;

  let i = 19;
  let millis = 0;
  if (charIs(text, i, 0x2e)) {
    const first = ++i;
    for (let d = digitAt(text, i); d >= 0; d = digitAt(text, ++i)) if (i - first < 3) millis = millis * 10 + d;
    const digits = i - first;
    if (digits === 0) return null;
    if (digits < 3) millis *= digits === 1 ? 100 : 10;
  }
  let offsetMinutes = 0;
  if (charIs(text, i, 0x5a, 0x7a)) {
    if (i + 1 !== text.length) return null;
  } else if (charIs(text, i, 0x2b, 0x2d)) {
    const offsetHours = twoDigitsAt(text, i + 1);
    const offsetMins = twoDigitsAt(text, i + 4);
    if (i + 6 !== text.length || !charIs(text, i + 3, 0x3a) || offsetHours < 0 || offsetMins < 0) return null;
    if (offsetHours > 23 || offsetMins > 59) return null;
    offsetMinutes = (charIs(text, i, 0x2d) ? -1 : 1) * (offsetHours * 60 + offsetMins);
  } else return null;
  return ((daysFromCivil(year, month, day) * 24 + hour) * 60 + minute - offsetMinutes) * 60_000 + second * 1000 + millis;
}

/** An HTTP method as the pipeline counts it: the token in upper case (`get` and `GET` are one). */
export function normalizeMethod(method: string): string {
  return method.toUpperCase();
}

/** The times kept at `nowMs`: the aggregator's retention (0: none) and the allowed clock skew ahead. */
export function keptTimes(nowMs: number, retentionDays: number, maxFutureSkewMs: number): KeptTimes {
  return { earliestMs: retentionHorizonMs(nowMs, retentionDays), latestMs: nowMs + maxFutureSkewMs };
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

/** Where the problems of an entry go: the entry's index, the field, and why. */
export type ProblemSink = (index: number, field: string, reason: string) => void;

/**
 * The event times the pipeline will keep, as the door sees them now: not older than the
 * aggregator's retention (when one is set), not further ahead than the allowed clock skew. Only the
 * door checks them: a later stage re-reads an accepted batch at a later time and must not refuse it
 * for having aged.
 */
export interface KeptTimes {
  /** Earliest instant kept (epoch ms); undefined: no retention. */
  earliestMs?: number;
  /** Latest instant accepted (epoch ms). */
  latestMs: number;
}

/**
 * Checks one entry, telling `fail` each problem (fields other than the four are ignored), and
 * returns its event time in epoch ms, or NaN when `receivedAt` is not a valid one. The one
 * reading of an entry that validating and summarizing share.
 */
export function checkEntry(input: unknown, index: number, fail: ProblemSink, kept?: KeptTimes): number {
  if (!isObject(input)) {
    fail(index, '', 'entry must be a JSON object');
    return NaN;
  }
  const { receivedAt, method, path, userAgent } = input;
  let ms = NaN;
  if (receivedAt === undefined) fail(index, 'receivedAt', 'is required');
  else if (typeof receivedAt !== 'string') fail(index, 'receivedAt', 'must be a string');
  else {
    const parsed = parseTimestamp(receivedAt);
    if (parsed === null) fail(index, 'receivedAt', 'must be an RFC 3339 timestamp with Z or an offset, e.g. 2025-12-28T18:03:07.123Z');
    else if (!isStorableEventTime(parsed)) fail(index, 'receivedAt', `must lie between ${STORABLE_RANGE} (UTC), the times the aggregates can hold exactly`);
    else if (kept?.earliestMs !== undefined && parsed < kept.earliestMs) fail(index, 'receivedAt', `is older than the retention (before ${new Date(kept.earliestMs).toISOString()}): it would not be kept`);
    else if (kept && parsed > kept.latestMs) fail(index, 'receivedAt', `is further in the future than the allowed clock skew (after ${new Date(kept.latestMs).toISOString()})`);
    else ms = parsed;
  }

  if (method === undefined) fail(index, 'method', 'is required');
  else if (typeof method !== 'string') fail(index, 'method', 'must be a string');
  else if (method.length > MAX_METHOD_CHARS) fail(index, 'method', `must be at most ${MAX_METHOD_CHARS} characters`);
  else if (!HTTP_METHOD_TOKEN.test(method)) fail(index, 'method', 'must be an HTTP method token, e.g. GET');

  if (path === undefined) fail(index, 'path', 'is required');
  else if (typeof path !== 'string') fail(index, 'path', 'must be a string');
  else if (!path.startsWith('/')) fail(index, 'path', "must start with '/'");
  else if (!path.isWellFormed()) fail(index, 'path', NOT_WELL_FORMED);
  else if (charLength(path, MAX_PATH_CHARS) > MAX_PATH_CHARS) fail(index, 'path', `must be at most ${MAX_PATH_CHARS} characters`);

  if (userAgent === undefined) fail(index, 'userAgent', 'is required');
  else if (typeof userAgent !== 'string') fail(index, 'userAgent', 'must be a string');
  else if (!userAgent.isWellFormed()) fail(index, 'userAgent', NOT_WELL_FORMED);
  else if (charLength(userAgent, MAX_USER_AGENT_CHARS) > MAX_USER_AGENT_CHARS) fail(index, 'userAgent', `must be at most ${MAX_USER_AGENT_CHARS} characters`);
  return ms;
}

/** Every problem of one entry (empty when it is valid). */
export function validateEntry(input: unknown, index: number, kept?: KeptTimes): EntryError[] {
  const errors: EntryError[] = [];
  checkEntry(input, index, (i, field, reason) => errors.push({ index: i, field, reason }), kept);
  return errors;
}

export interface EntriesValidation {
  /** Total number of problems found (may exceed `errors.length`). */
  errorCount: number;
  /** The first `maxErrors` problems, in entry order. */
  errors: EntryError[];
}

/** Collects the problems of many entries: the first `maxErrors`, and how many there were in all. */
export function problemCollector(maxErrors: number): EntriesValidation & { fail: ProblemSink } {
  const collected: EntriesValidation & { fail: ProblemSink } = {
    errorCount: 0,
    errors: [],
    fail: (index, field, reason) => {
      collected.errorCount++;
      if (collected.errors.length < maxErrors) collected.errors.push({ index, field, reason });
    },
  };
  return collected;
}

/** Validates every entry; reports the first `maxErrors` problems and how many there were in all. */
export function validateEntries(entries: readonly unknown[], maxErrors = MAX_REPORTED_ERRORS, kept?: KeptTimes): EntriesValidation {
  const problems = problemCollector(maxErrors);
  for (let i = 0; i < entries.length; i++) checkEntry(entries[i], i, problems.fail, kept);
  return { errorCount: problems.errorCount, errors: problems.errors };
}
