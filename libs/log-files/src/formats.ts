import { LogEntry } from '@pipeline/entry';
import { decodeLatin1, decodeUtf8, Line } from './lines';

/** The input formats `send` reads. */
export const FORMATS = ['ndjson', 'json', 'combined'] as const;
export type Format = (typeof FORMATS)[number];

/**
 * One record of the input turned into an entry to validate, or why it could not be. `ordinal`
 * numbers records in input order (the line for line formats, the element for an array) and is
 * what batch positions are made of; `line` is what a person looks for in the file.
 */
export type ParsedRecord = { ordinal: number; line: number; entry: unknown } | { ordinal: number; line: number; error: string };

const UTF8_BOM = [0xef, 0xbb, 0xbf];

/**
 * The format of an input from its first non-blank line: a JSON array starts with `[`, NDJSON
 * with `{`, anything else is taken for an access log.
 */
export function detectFormat(firstLine: Uint8Array): Format {
  let i = UTF8_BOM.every((b, k) => firstLine[k] === b) ? 3 : 0;
  while (i < firstLine.length && (firstLine[i] === 0x20 || firstLine[i] === 0x09 || firstLine[i] === 0x0d)) i++;
  if (firstLine[i] === 0x5b) return 'json';
  if (firstLine[i] === 0x7b) return 'ndjson';
  return 'combined';
}

export const isBlank = (bytes: Uint8Array) => bytes.every((b) => b === 0x20 || b === 0x09 || b === 0x0d);

/** One NDJSON line: a JSON value on its own (validation decides whether it is an entry). Blank lines are skipped (null). */
export function parseNdjsonLine(line: Line): ParsedRecord | null {
  const at = { ordinal: line.number, line: line.number };
  if (line.truncated) return { ...at, error: 'line too long' };
  if (isBlank(line.bytes)) return null;
  const text = decodeUtf8(line.bytes);
  if (text === null) return { ...at, error: 'not valid UTF-8' };
  try {
    return { ...at, entry: JSON.parse(text) };
  } catch (err) {
    return { ...at, error: `not JSON: ${(err as Error).message}` };
  }
}

const MONTHS: Record<string, string> = { Jan: '01', Feb: '02', Mar: '03', Apr: '04', May: '05', Jun: '06', Jul: '07', Aug: '08', Sep: '09', Oct: '10', Nov: '11', Dec: '12' };

/** `10/Oct/2000:13:55:36 -0700` (the `%t` of Apache and nginx) as RFC 3339, `2000-10-10T13:55:36-07:00`. */
export function accessLogTime(text: string): string | null {
  const m = /^(\d{2})\/([A-Z][a-z]{2})\/(\d{4}):(\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})$/.exec(text);
  if (!m || !MONTHS[m[2]]) return null;
  return `${m[3]}-${MONTHS[m[2]]}-${m[1]}T${m[4]}:${m[5]}:${m[6]}${m[7]}${m[8]}:${m[9]}`;
}

const QUOTED = String.raw`"((?:[^"\\]|\\.)*)"`;
/** `%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i"`, and whatever a site appends after it. */
const COMBINED = new RegExp(String.raw`^(\S+) (\S+) (\S+) \[([^\]]+)\] ${QUOTED} (\d{3}|-) (\d+|-) ${QUOTED} ${QUOTED}(?:\s.*)?$`);

const utf8Encoder = new TextEncoder();

/**
 * A quoted field of an access log as the server wrote it: Apache escapes `"` and `\` with a
 * backslash and other bytes as `\xhh`; nginx writes `\xHH` for all of them. The bytes they stand
 * for are UTF-8 when they can be, else ISO-8859-1 (what old clients put in headers), so no
 * request is dropped for its user agent's encoding.
 */
export function unescapeLogField(field: string): string {
  if (!field.includes('\\')) return field;
  const bytes: number[] = [];
  const pushText = (s: string) => bytes.push(...utf8Encoder.encode(s));
  for (let i = 0; i < field.length; i++) {
    const c = field[i];
    if (c !== '\\' || i + 1 >= field.length) {
      pushText(c);
      continue;
    }
    const next = field[i + 1];
    const hex = /^[0-9A-Fa-f]{2}$/.test(field.slice(i + 2, i + 4)) ? field.slice(i + 2, i + 4) : null;
    if (next === 'x' && hex) {
      bytes.push(parseInt(hex, 16));
      i += 3;
    } else if (next === '"' || next === '\\') {
      bytes.push(next.charCodeAt(0));
      i += 1;
    } else if (next === 'n' || next === 't' || next === 'r') {
      bytes.push({ n: 0x0a, t: 0x09, r: 0x0d }[next]);
      i += 1;
    } else {
      pushText(c);
    }
  }
  const raw = Uint8Array.from(bytes);
  return decodeUtf8(raw) ?? decodeLatin1(raw);
}

/** The path of a request target: origin form as it is, absolute form (a proxy request) reduced to its path. */
function targetPath(target: string): string {
  const absolute = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*(.*)$/.exec(target);
  if (!absolute) return target;
  const rest = absolute[1];
  return rest.startsWith('/') ? rest : `/${rest}`;
}

/**
 * One line of a "combined" access log (Apache, nginx) as an entry: its time as `receivedAt`, the
 * method and path of its request line, its user agent (`-` is none). Lines whose request line is
 * not `METHOD target [HTTP/x]` (a TLS handshake or junk sent to a plain-text port, logged as
 * `"-"` or as escaped bytes) are reported, not guessed at.
 */
export function parseCombinedLine(line: Line): ParsedRecord | null {
  const at = { ordinal: line.number, line: line.number };
  if (line.truncated) return { ...at, error: 'line too long' };
  if (isBlank(line.bytes)) return null;
  const text = decodeUtf8(line.bytes) ?? decodeLatin1(line.bytes);
  const m = COMBINED.exec(text);
  if (!m) return { ...at, error: 'not a combined access-log line (%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i")' };
  const receivedAt = accessLogTime(m[4]);
  if (receivedAt === null) return { ...at, error: `time [${m[4]}] is not dd/Mon/yyyy:hh:mm:ss +hhmm` };
  const request = unescapeLogField(m[5]);
  const parts = request.split(' ');
  const valid = (parts.length === 3 && /^HTTP\/\d(\.\d)?$/.test(parts[2])) || parts.length === 2;
  if (!valid || parts[0] === '' || parts[1] === '') return { ...at, error: `request line ${JSON.stringify(request.slice(0, 100))} is not METHOD target HTTP/version` };
  const userAgent = m[9] === '-' ? '' : unescapeLogField(m[9]);
  const entry: LogEntry = { receivedAt, method: parts[0], path: targetPath(parts[1]), userAgent };
  return { ...at, entry };
}

/**
 * The elements of a JSON array, each with the line it starts on, without parsing the array as a
 * whole: one bad element is reported on its own and the others go on. Malformed structure
 * (no `[`, a missing comma, no closing `]`) ends the scan with an error at its line; the elements
 * before it stand.
 */
export function parseJsonArray(text: string): ParsedRecord[] {
  const records: ParsedRecord[] = [];
  let i = 0;
  let line = 1;
  const skipSpace = () => {
    while (i < text.length && /[\s\uFEFF]/.test(text[i])) {
      if (text[i] === '\n') line++;
      i++;
    }
  };
  const fail = (error: string) => records.push({ ordinal: records.length + 1, line, error });

  skipSpace();
  if (text[i] !== '[') {
    fail('not a JSON array');
    return records;
  }
  i++;
  skipSpace();
  if (text[i] === ']') {
    i++;
    return trailing();
  }
  for (;;) {
    skipSpace();
    const start = i;
    const startLine = line;
    let depth = 0;
    let inString = false;
    for (; i < text.length; i++) {
      const c = text[i];
      if (c === '\n') line++;
      if (inString) {
        if (c === '\\') i++;
        else if (c === '"') inString = false;
      } else if (c === '"') inString = true;
      else if (c === '{' || c === '[') depth++;
      else if (c === '}' || c === ']') {
        if (depth === 0) break;
        depth--;
      } else if (c === ',' && depth === 0) break;
    }
    const element = text.slice(start, i).trim();
    const ordinal = records.length + 1;
    if (i >= text.length) {
      records.push({ ordinal, line: startLine, error: 'the array is not closed with ]: the file may be cut short' });
      return records;
    }
    try {
      records.push({ ordinal, line: startLine, entry: JSON.parse(element) });
    } catch (err) {
      records.push({ ordinal, line: startLine, error: element === '' ? 'empty element' : `not JSON: ${(err as Error).message}` });
    }
    if (text[i++] === ']') return trailing();
  }

  function trailing(): ParsedRecord[] {
    skipSpace();
    if (i < text.length) fail('text after the closing ] of the array');
    return records;
  }
}
