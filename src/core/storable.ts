/**
 * @internal What every store can keep and give back unchanged. Stores differ on hostile text:
 * Redis' cjson refuses the `\ud800` escape JSON.stringify writes for a lone surrogate, PostgreSQL
 * refuses NUL in `text` and both NUL and lone surrogates in `jsonb`, and its driver turns a lone
 * surrogate into U+FFFD (so a lookup by that userId would match another user's). The engine refuses
 * such input before any store sees it, so every store accepts exactly the same inputs.
 */
import { InvalidInputError } from '../errors.js';

export const MAX_USER_ID_LENGTH = 256;

/** C0 controls (NUL included), DEL, and UTF-16 surrogates without their other half. */
const ILL_FORMED_TEXT = /[\u0000-\u001f\u007f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/; // eslint-disable-line no-control-regex

/**
 * JSON.stringify escapes exactly two things a store may refuse: NUL (`\u0000`) and a lone
 * surrogate (`\udXXX`; well-formed pairs are written raw). An escape is one only after an even
 * run of backslashes (`\\u0000` is a backslash followed by text).
 */
const REFUSED_ESCAPE = /(?<!\\)(?:\\\\)*\\u(?:0000|d[89a-f])/;

/** A userId is 1 to 256 UTF-16 code units of well-formed text without control characters. */
export function assertUserId(userId: unknown): asserts userId is string {
  if (typeof userId !== 'string' || userId.length === 0 || userId.length > MAX_USER_ID_LENGTH || ILL_FORMED_TEXT.test(userId)) {
    throw new InvalidInputError(`userId must be 1 to ${MAX_USER_ID_LENGTH} characters of well-formed text without control characters`);
  }
}

/** Session data as JSON: refused if it holds NUL or a lone surrogate, in a key or a value. */
export function assertStorableJson(json: string): void {
  if (REFUSED_ESCAPE.test(json)) throw new InvalidInputError('session data must not hold NUL or lone UTF-16 surrogates');
}

const MAX_META_LENGTH = 512;

/** Device metadata is bounded: a client picks its User-Agent. */
export function clip(v: string | null | undefined): string | undefined {
  return typeof v === 'string' && v.length > 0 ? v.slice(0, MAX_META_LENGTH) : undefined;
}

/** Device metadata comes from the client: what a store could not keep becomes U+FFFD. */
export function storableMeta(v: string | undefined): string | undefined {
  return v === undefined ? v : v.replace(new RegExp(ILL_FORMED_TEXT.source, 'g'), '\ufffd');
}

/** Assign an own property — also `__proto__`, which a plain assignment would take as the prototype. */
export function put(o: Record<string, unknown>, k: string, v: unknown): void {
  if (k === '__proto__') Object.defineProperty(o, k, { value: v, writable: true, enumerable: true, configurable: true });
  else o[k] = v;
}
