/**
 * @internal The DBSC response and request headers as RFC 9651 structured fields, written and read
 * with `structured-headers` (hand-built quoting is how header injection starts).
 */
import { parseItem, serializeList, Token } from 'structured-headers';

/** `Secure-Session-Registration: (ES256 RS256);path="...";challenge="..."` */
export function registrationHeader(algs: readonly string[], path: string, challenge: string): string {
  return serializeList([[algs.map((a) => [new Token(a), new Map()]), new Map([['path', path], ['challenge', challenge]])]]);
}

/** `Secure-Session-Challenge: "<challenge>";id="<session identifier>"` */
export function challengeHeader(challenge: string, sessionId: string): string {
  return serializeList([[challenge, new Map([['id', sessionId]])]]);
}

/**
 * `Sec-Secure-Session-Id` (Chromium sends the bare identifier, which parses as a token; a string
 * is accepted too). Null for anything else, never throws.
 */
export function parseSessionId(value: string | null): string | null {
  if (!value || value.length > 256) return null;
  try {
    const [item] = parseItem(value);
    const s = item instanceof Token ? item.toString() : item;
    return typeof s === 'string' && s.length > 0 ? s : null;
  } catch {
    return null;
  }
}
