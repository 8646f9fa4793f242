/**
 * TOTP (RFC 6238) over HOTP (RFC 4226): HMAC-SHA-1, 30-second steps, 6 digits — what every
 * authenticator app understands. Secrets are base32 (RFC 4648) as in `otpauth://` URIs.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

const B32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
export const TOTP_STEP_MS = 30_000;
const DIGITS = 6;

export function base32Encode(buf: Uint8Array): string {
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of buf) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += B32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += B32[(value << (5 - bits)) & 31];
  return out;
}

export function base32Decode(s: string): Buffer {
  const clean = s.toUpperCase().replace(/[\s=-]/g, '');
  let bits = 0;
  let value = 0;
  const out: number[] = [];
  for (const c of clean) {
    const i = B32.indexOf(c);
    if (i === -1) throw new Error('invalid base32');
    value = (value << 5) | i;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 255);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

/** 160-bit secret, the size RFC 4226 section 4 recommends for HMAC-SHA-1. */
export function newTotpSecret(): string {
  return base32Encode(randomBytes(20));
}

/** RFC 4226 section 5.3: dynamic truncation of HMAC(secret, counter). */
export function hotp(secret: Buffer, counter: number): string {
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(counter));
  const mac = createHmac('sha1', secret).update(msg).digest();
  const off = mac[mac.length - 1]! & 0x0f;
  const bin = ((mac[off]! & 0x7f) << 24) | (mac[off + 1]! << 16) | (mac[off + 2]! << 8) | mac[off + 3]!;
  return String(bin % 10 ** DIGITS).padStart(DIGITS, '0');
}

export function totpStep(now: number): number {
  return Math.floor(now / TOTP_STEP_MS);
}

export function totp(secretB32: string, now: number): string {
  return hotp(base32Decode(secretB32), totpStep(now));
}

/**
 * Check a code against the current step and one step either side (RFC 6238 section 5.2 clock
 * drift). Returns the matched step so the caller can refuse its reuse (section 5.2: a verifier
 * must not accept the same OTP twice), or null.
 */
export function verifyTotp(secretB32: string, code: string, now: number, lastUsedStep = -1): number | null {
  if (!/^\d{6}$/.test(code)) return null;
  let secret: Buffer;
  try {
    secret = base32Decode(secretB32);
  } catch {
    return null;
  }
  const step = totpStep(now);
  let matched: number | null = null;
  // Check every candidate (no early exit) so timing does not reveal which step matched.
  for (const s of [step - 1, step, step + 1]) {
    const ok = timingSafeEqual(Buffer.from(hotp(secret, s)), Buffer.from(code));
    if (ok && s > lastUsedStep && matched === null) matched = s;
  }
  return matched;
}

export function otpauthUri(secretB32: string, account: string, issuer = 'sessionward demo'): string {
  const label = `${encodeURIComponent(issuer)}:${encodeURIComponent(account)}`;
  return `otpauth://totp/${label}?secret=${secretB32}&issuer=${encodeURIComponent(issuer)}&algorithm=SHA1&digits=6&period=30`;
}
