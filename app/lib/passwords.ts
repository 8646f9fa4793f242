/**
 * Password hashing with scrypt (node:crypto): at least N = 2^17, r = 8, p = 1 (the OWASP Password
 * Storage cheat sheet's minimum for scrypt), a 16-byte salt per user, a 32-byte key. The
 * parameters are stored in the hash string, so a hash made with weaker ones is still verified and
 * then replaced at the next sign-in (`needsRehash`).
 */
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

const KEY_LEN = 32;
const R = 8;
const P = 1;

/** OWASP Password Storage cheat sheet, scrypt: N=2^17 (128 MiB), r=8, p=1. */
export const SCRYPT_MIN_LOG_N = 17;
/** Beyond this a hash would need more than 2 GiB per verification: not ours, refused. */
const SCRYPT_MAX_LOG_N = 20;
/**
 * The named low-cost setting for tests (`insecureTestScrypt`): N=2^10 keeps a test's many
 * sign-ins fast. Refused unless NODE_ENV is `test`.
 */
export const TEST_SCRYPT_LOG_N = 10;

/**
 * The cost the app hashes with: `logN` (default the minimum) if at least the OWASP minimum; the
 * test setting only when asked for by name and NODE_ENV is `test`. Anything else stops the start.
 */
export function scryptCost(o: { scryptLogN?: number; insecureTestScrypt?: boolean }, env: NodeJS.ProcessEnv = process.env): number {
  if (o.insecureTestScrypt) {
    if (env.NODE_ENV !== 'test') throw new Error('insecureTestScrypt (scrypt N=2^10) is for tests only: it needs NODE_ENV=test');
    return TEST_SCRYPT_LOG_N;
  }
  const logN = o.scryptLogN ?? SCRYPT_MIN_LOG_N;
  if (!Number.isInteger(logN) || logN < SCRYPT_MIN_LOG_N || logN > SCRYPT_MAX_LOG_N) {
    throw new Error(`scrypt cost must be N=2^${SCRYPT_MIN_LOG_N}..2^${SCRYPT_MAX_LOG_N} (OWASP minimum 2^${SCRYPT_MIN_LOG_N}), got ${String(logN)}`);
  }
  return logN;
}

function scryptAsync(password: string, salt: Buffer, opts: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFKC'), salt, KEY_LEN, opts, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

function params(logN: number, r = R, p = P): ScryptOptions {
  const N = 2 ** logN;
  // scrypt needs 128 * N * r bytes; node's default maxmem (32 MiB) is too small from 2^15 on.
  return { N, r, p, maxmem: 256 * N * r };
}

/** `scrypt$<logN>$<r>$<p>$<salt b64url>$<key b64url>` */
export async function hashPassword(password: string, logN: number): Promise<string> {
  const salt = randomBytes(16);
  const key = await scryptAsync(password, salt, params(logN));
  return `scrypt$${logN}$${R}$${P}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

export interface Verified {
  ok: boolean;
  /** The password was right but the hash is weaker than `logN`: store a new one. */
  needsRehash: boolean;
}

/**
 * Check a password against a stored hash. Hashes down to 2^10 (older versions of this app, the
 * test setting) are still verified so their owners can sign in and be rehashed; their parameters
 * are read from the hash, within bounds that keep one verification's memory in check.
 */
export async function verifyPassword(password: string, stored: string, logN: number = SCRYPT_MIN_LOG_N): Promise<Verified> {
  const no = { ok: false, needsRehash: false };
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return no;
  const [n, r, p] = [Number(parts[1]), Number(parts[2]), Number(parts[3])];
  if (!Number.isInteger(n) || n < TEST_SCRYPT_LOG_N || n > SCRYPT_MAX_LOG_N) return no;
  if (!Number.isInteger(r) || r < 1 || r > 32 || !Number.isInteger(p) || p < 1 || p > 4) return no;
  const salt = Buffer.from(parts[4]!, 'base64url');
  const expected = Buffer.from(parts[5]!, 'base64url');
  const key = await scryptAsync(password, salt, params(n, r, p));
  const ok = key.length === expected.length && timingSafeEqual(key, expected);
  return { ok, needsRehash: ok && (n < logN || r < R || p < P) };
}

/** Rules kept short on purpose (NIST 800-63B 3.1.1.2): length, not composition. */
export function passwordProblem(password: string): string | null {
  if (password.length < 10) return 'Use at least 10 characters.';
  if (password.length > 256) return 'Use at most 256 characters.';
  return null;
}
