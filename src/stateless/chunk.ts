/**
 * Cookie chunking (SEC-7): a seal longer than one cookie is split over `name.0`, `name.1`, ...
 * Each Set-Cookie line, attributes included, stays within 4096 bytes; more chunks than allowed
 * is a typed CookieTooLargeError. Chunks left over from an earlier, larger cookie are cleared.
 */
import { CookieTooLargeError } from '../errors.js';
import { MAX_COOKIE_BYTES, serializeCookie, type CookieAttributes } from '../cookie/index.js';

const CHUNK_SUFFIX_RE = /^\.(\d{1,2})$/;

export interface ChunkRead {
  /** The joined value, or null when no cookie (or an incomplete/oversized set) was sent. */
  value: string | null;
  /** Every cookie name of this family the client sent (plain and chunks), to clear stale ones. */
  present: string[];
  /** True when the client sent more chunks than allowed. */
  tooLarge: boolean;
}

/** Read `name`, or the contiguous chunks `name.0..name.(maxChunks-1)`. Never throws. */
export function readChunked(cookies: Record<string, string>, name: string, maxChunks: number): ChunkRead {
  const present: string[] = [];
  let maxIndex = -1;
  for (const k of Object.keys(cookies)) {
    if (k === name) present.push(k);
    else if (k.startsWith(name)) {
      const m = CHUNK_SUFFIX_RE.exec(k.slice(name.length));
      if (m) {
        present.push(k);
        maxIndex = Math.max(maxIndex, Number(m[1]));
      }
    }
  }
  const plain = cookies[name];
  if (plain !== undefined && plain !== '') return { value: plain, present, tooLarge: false };
  if (maxIndex < 0) return { value: null, present, tooLarge: false };
  if (maxIndex >= maxChunks) return { value: null, present, tooLarge: true };
  let out = '';
  for (let i = 0; i <= maxIndex; i++) {
    const part = cookies[`${name}.${i}`];
    if (part === undefined || part === '') return { value: null, present, tooLarge: false };
    out += part;
  }
  return { value: out, present, tooLarge: false };
}

/** Bytes a Set-Cookie line takes beyond its value. Names and attributes are ASCII. */
function overhead(name: string, attrs: CookieAttributes): number {
  return serializeCookie(name, '', attrs).length;
}

/**
 * Set-Cookie lines that store `value` under `name` (one cookie when it fits, else chunks), plus
 * Max-Age=0 lines for every previously present name that is no longer used.
 */
export function writeChunked(
  name: string,
  value: string,
  attrs: CookieAttributes,
  maxChunks: number,
  present: readonly string[],
): string[] {
  const lines: string[] = [];
  const used = new Set<string>();
  if (overhead(name, attrs) + value.length <= MAX_COOKIE_BYTES) {
    lines.push(serializeCookie(name, value, attrs));
    used.add(name);
  } else {
    // Two-digit indexes bound the overhead; compute with the longest name we might use.
    const room = MAX_COOKIE_BYTES - overhead(`${name}.${maxChunks - 1}`, attrs);
    const count = room > 0 ? Math.ceil(value.length / room) : Infinity;
    if (count > maxChunks) throw new CookieTooLargeError(`session cookie ${name} needs more than ${maxChunks} chunks`);
    for (let i = 0; i < count; i++) {
      const n = `${name}.${i}`;
      lines.push(serializeCookie(n, value.slice(i * room, (i + 1) * room), attrs));
      used.add(n);
    }
  }
  for (const p of present) if (!used.has(p)) lines.push(serializeCookie(p, '', { ...attrs, maxAge: 0 }));
  return lines;
}

/** Max-Age=0 lines for every name in `names`, with the same attributes they were set with (SEC-36). */
export function clearChunked(name: string, attrs: CookieAttributes, present: readonly string[]): string[] {
  const names = new Set(present);
  names.add(name);
  return [...names].map((n) => serializeCookie(n, '', { ...attrs, maxAge: 0 }));
}
