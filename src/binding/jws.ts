/**
 * @internal Compact JWS decoding for proofs sent by clients (DBSC, DPoP): size-bounded, never
 * throws, header and payload must be JSON objects (RFC 7515 section 7.1).
 */
import { fromBase64Url } from '../lib/base64url.js';

export interface DecodedJws {
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
  /** `base64url(header) + '.' + base64url(payload)`: the bytes the signature covers. */
  signingInput: string;
  signature: Uint8Array;
}

const PART = /^[A-Za-z0-9_-]+$/;
const dec = new TextDecoder('utf-8', { fatal: true });

function json(part: string): Record<string, unknown> | null {
  const bytes = fromBase64Url(part);
  if (!bytes) return null;
  try {
    const v: unknown = JSON.parse(dec.decode(bytes));
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** Decode a compact JWS of at most `maxLength` characters; null for anything malformed. */
export function decodeJws(compact: unknown, maxLength = 8192): DecodedJws | null {
  if (typeof compact !== 'string' || compact.length > maxLength) return null;
  const parts = compact.split('.');
  if (parts.length !== 3 || !parts.every((p) => PART.test(p))) return null;
  const header = json(parts[0]!);
  const payload = json(parts[1]!);
  const signature = fromBase64Url(parts[2]!);
  if (!header || !payload || !signature) return null;
  return { header, payload, signingInput: `${parts[0]}.${parts[1]}`, signature };
}
