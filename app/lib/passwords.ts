/**
 * Password hashing with scrypt (node:crypto): N = 2^15, r = 8, p = 1 (the OWASP Password Storage
 * cheat sheet's minimum), a 16-byte salt per user, a 32-byte key. The parameters are stored in
 * the hash string so they can be raised later without breaking old hashes.
 */
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

const KEY_LEN = 32;

function scryptAsync(password: string, salt: Buffer, opts: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFKC'), salt, KEY_LEN, opts, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

function params(logN: number): ScryptOptions {
  const N = 2 ** logN;
  // scrypt needs 128 * N * r bytes; node's default maxmem (32 MiB) is exactly too small for 2^15.
  return { N, r: 8, p: 1, maxmem: 256 * N * 8 };
}

/** `scrypt$<logN>$8$1$<salt b64url>$<key b64url>` */
export async function hashPassword(password: string, logN = 15): Promise<string> {
  const salt = randomBytes(16);
  const key = await scryptAsync(password, salt, params(logN));
  return `scrypt$${logN}$8$1$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const logN = Number(parts[1]);
  if (!Number.isInteger(logN) || logN < 10 || logN > 20) return false;
  const salt = Buffer.from(parts[4]!, 'base64url');
  const expected = Buffer.from(parts[5]!, 'base64url');
  const key = await scryptAsync(password, salt, params(logN));
  return key.length === expected.length && timingSafeEqual(key, expected);
}

/** Rules kept short on purpose (NIST 800-63B 3.1.1.2): length, not composition. */
export function passwordProblem(password: string): string | null {
  if (password.length < 10) return 'Use at least 10 characters.';
  if (password.length > 256) return 'Use at most 256 characters.';
  return null;
}
