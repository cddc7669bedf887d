import { MAX_PARTS, Partial, serializePartial } from '@pipeline/contract';

/** UTF-8 length of a string without encoding it. */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

/**
 * A partial that cannot be split into parts of the allowed size (one key alone too large, or more
 * parts than a partial may have). Entries valid at the door never lead here (their fields are
 * bounded far below a part); a damaged or foreign object might.
 */
export class UnsplittablePartialError extends Error {
  readonly code = 'partial_unsplittable';
  constructor(message: string) {
    super(message);
    this.name = 'UnsplittablePartialError';
  }
}

/**
 * The smallest part size that holds any entry the door accepts: the widest path key (a method of 32
 * characters, a path of 2,048 characters each escaped as `\u00XX` in JSON: about 12.3 KB) beside
 * the envelope with every user-agent family the parser knows (a few hundred, about 10 KB).
 */
export const MIN_PARTIAL_BYTES = 65_536;

/** Bytes one `"key":count,` pair takes in the canonical JSON. */
const entryBytes = (key: string, count: number) => utf8Length(JSON.stringify(key)) + 1 + String(count).length + 1;

/**
 * Splits a partial whose canonical JSON exceeds `maxBytes` into numbered parts that each fit.
 * Each part is a valid partial of its own: it takes a run of the path keys (in key order) with
 * their counts, its total is their sum, and user-agent counts are dealt out in key order until
 * they add up to that total. Merged, the parts give back exactly the original counts. The split
 * depends on nothing but the partial and `maxBytes`, so the same input always splits the same way.
 */
export function splitPartial(p: Partial, maxBytes: number): Partial[] {
  if (utf8Length(serializePartial(p)) <= maxBytes) return [p];

  // Room for paths in a part: the limit less everything else a part may hold (the envelope with
  // the widest part numbers and, at worst, every user-agent family with its full count).
  const envelope = utf8Length(serializePartial({ ...p, requestsByPath: {}, part: MAX_PARTS, parts: MAX_PARTS }));
  const room = maxBytes - envelope;
  const paths = Object.keys(p.requestsByPath).sort();
  const widest = Math.max(...paths.map((k) => entryBytes(k, p.requestsByPath[k])));
  if (widest > room) throw new UnsplittablePartialError(`cannot split a partial into parts of ${maxBytes} bytes: one path key alone needs ${widest + envelope}`);

  const groups: string[][] = [[]];
  let used = 0;
  for (const key of paths) {
    const bytes = entryBytes(key, p.requestsByPath[key]);
    if (used + bytes > room) {
      groups.push([]);
      used = 0;
    }
    groups[groups.length - 1].push(key);
    used += bytes;
  }
  if (groups.length > MAX_PARTS) throw new UnsplittablePartialError(`a partial of ${paths.length} paths needs more than ${MAX_PARTS} parts of ${maxBytes} bytes`);

  const agents = Object.keys(p.requestsByUserAgent).sort();
  const left = agents.map((k) => p.requestsByUserAgent[k]);
  let agent = 0;
  const parts = groups.map((keys, i): Partial => {
    const requestsByPath: Record<string, number> = {};
    let total = 0;
    for (const k of keys) {
      requestsByPath[k] = p.requestsByPath[k];
      total += p.requestsByPath[k];
    }
    const requestsByUserAgent: Record<string, number> = {};
    for (let need = total; need > 0; ) {
      while (left[agent] === 0) agent++;
      const take = Math.min(need, left[agent]);
      requestsByUserAgent[agents[agent]] = take;
      left[agent] -= take;
      need -= take;
    }
    return { ...p, total, requestsByPath, requestsByUserAgent, part: i + 1, parts: groups.length };
  });
  for (const part of parts) {
    if (utf8Length(serializePartial(part)) > maxBytes) throw new UnsplittablePartialError(`part ${part.part} of ${part.parts} exceeds ${maxBytes} bytes`);
  }
  return parts;
}
