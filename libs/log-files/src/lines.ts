/** One line of an input, numbered from 1, without its line break (`\n` or `\r\n`). */
export interface Line {
  number: number;
  bytes: Uint8Array;
  /** The line was longer than the splitter keeps; `bytes` holds its beginning only. */
  truncated?: boolean;
}

/** Longest line kept whole: far above any valid entry (paths of 2,048 and agents of 1,024 characters). */
export const MAX_LINE_BYTES = 64 * 1024;

/**
 * Cuts a byte stream into numbered lines as its chunks arrive, so a large file is never held
 * whole. Bytes, not text: a chunk may end inside a UTF-8 sequence, and whether a line is valid
 * UTF-8 is for its format to judge. A line beyond `maxLineBytes` is kept truncated (and reported
 * by its parser) rather than growing without bound.
 */
export class LineSplitter {
  private parts: Uint8Array[] = [];
  private pending = 0;
  private truncated = false;
  private next = 1;

  constructor(private readonly maxLineBytes = MAX_LINE_BYTES) {}

  push(chunk: Uint8Array): Line[] {
    const lines: Line[] = [];
    let start = 0;
    for (let i = chunk.indexOf(0x0a); i !== -1; i = chunk.indexOf(0x0a, start)) {
      this.keep(chunk.subarray(start, i));
      lines.push(this.take());
      start = i + 1;
    }
    this.keep(chunk.subarray(start));
    return lines;
  }

  /** The last line, when the input does not end with a line break. */
  end(): Line[] {
    return this.pending > 0 || this.truncated ? [this.take()] : [];
  }

  private keep(bytes: Uint8Array): void {
    const room = this.maxLineBytes - this.pending;
    if (bytes.length > room) this.truncated = true;
    const kept = bytes.length > room ? bytes.subarray(0, Math.max(0, room)) : bytes;
    if (kept.length === 0) return;
    // Copied: the caller may reuse its chunk's buffer.
    this.parts.push(Uint8Array.from(kept));
    this.pending += kept.length;
  }

  private take(): Line {
    let bytes = this.parts.length === 1 ? this.parts[0] : concat(this.parts, this.pending);
    if (bytes.length > 0 && bytes[bytes.length - 1] === 0x0d && !this.truncated) bytes = bytes.subarray(0, bytes.length - 1);
    const line: Line = { number: this.next++, bytes };
    if (this.truncated) line.truncated = true;
    this.parts = [];
    this.pending = 0;
    this.truncated = false;
    return line;
  }
}

function concat(parts: Uint8Array[], length: number): Uint8Array {
  const out = new Uint8Array(length);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The line as text, or null when it is not valid UTF-8 (a leading byte order mark is dropped). */
export function decodeUtf8(bytes: Uint8Array): string | null {
  try {
    return utf8.decode(bytes);
  } catch {
    return null;
  }
}

/** Each byte as the character of the same number (ISO-8859-1): total, so it never fails. */
export function decodeLatin1(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 8192) s += String.fromCharCode(...bytes.subarray(i, i + 8192));
  return s;
}
