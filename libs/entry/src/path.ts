import { normalizeMethod } from './validate';

/**
 * The path without its query string and fragment: `/a?x=1#f` -> `/a`. Whichever of `?` and `#`
 * comes first ends the path (a `?` inside a fragment is part of the fragment).
 */
export function stripQueryAndFragment(path: string): string {
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c === 0x3f /* ? */ || c === 0x23 /* # */) return path.slice(0, i);
  }
  return path;
}

/** The key requests are counted by: `METHOD + " " + path`, e.g. `GET /`, `POST /api/users`. */
export function pathKey(method: string, path: string): string {
  return `${normalizeMethod(method)} ${stripQueryAndFragment(path)}`;
}
