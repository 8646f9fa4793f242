/**
 * @internal DBSC challenges: `<issued, base36>.<random>.<mac>`, the MAC binding the challenge to
 * its purpose and to one session record. Issuing one writes nothing (a flood of refresh requests
 * costs no store writes); it is short-lived by its own timestamp and single-use because claiming
 * it is a compare-and-set on the record (see `claim` in dbsc.ts).
 */
import type { SessionCrypto } from '../../crypto/types.js';

export type ChallengePurpose = 'register' | 'refresh';

const SHAPE = /^([0-9a-z]{1,12})\.([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{43})$/;
/** A challenge from the future beyond this is forged or from a skewed server. */
const FUTURE_SKEW_MS = 5_000;

function input(purpose: ChallengePurpose, recordId: string, body: string): string {
  return `sw-dbsc-${purpose}:${recordId}:${body}`;
}

export async function mintChallenge(c: SessionCrypto, key: Uint8Array, purpose: ChallengePurpose, recordId: string, now: number): Promise<string> {
  const body = `${now.toString(36)}.${c.randomToken(16)}`;
  return `${body}.${await c.hmac(key, input(purpose, recordId, body))}`;
}

/** True if `challenge` was minted by one of `keys` for this purpose and record, within `ttlMs`. */
export async function checkChallenge(
  c: SessionCrypto,
  keys: readonly Uint8Array[],
  purpose: ChallengePurpose,
  recordId: string,
  challenge: unknown,
  now: number,
  ttlMs: number,
): Promise<boolean> {
  if (typeof challenge !== 'string') return false;
  const m = SHAPE.exec(challenge);
  if (!m) return false;
  const issued = parseInt(m[1]!, 36);
  if (!(issued <= now + FUTURE_SKEW_MS && now - issued <= ttlMs)) return false;
  const body = `${m[1]}.${m[2]}`;
  for (const k of keys) if (c.timingSafeEqual(await c.hmac(k, input(purpose, recordId, body)), m[3]!)) return true;
  return false;
}
