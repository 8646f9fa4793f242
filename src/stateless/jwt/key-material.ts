/**
 * Recognises key material (PEM, DER, JWK, OpenSSH) that someone is about to use as an HMAC
 * secret. A public key is public: if it were the HMAC secret, anyone could sign HS256 tokens with
 * it (the classic HS/RS confusion, RFC 8725 §3.1, SEC-27). Such a value is refused whatever its
 * spelling — string or bytes, armoured or bare, base64 or hex — because a misconfiguration is
 * just as likely to hand over `readFileSync('public.der')` as a PEM string.
 */

const utf8 = new TextDecoder('utf-8', { fatal: true });
const B64_TEXT = /^[A-Za-z0-9+/_-]+={0,2}$/;
const HEX_TEXT = /^(?:[0-9a-fA-F]{2})+$/;
const SSH_PUBLIC = /^(?:ssh-(?:rsa|dss|ed25519|ed448)|ecdsa-sha2-nistp\d+|sk-\S+@openssh\.com) /;
const MAX_DEPTH = 16;

/**
 * End offset of the DER TLV at `i` (which must lie within `end`), or -1 when it is not strict DER.
 * Constructed values are walked, so only a value that is one well-formed tree all the way down
 * counts: random secrets that merely start with 0x30 do not.
 */
function tlvEnd(b: Uint8Array, i: number, end: number, depth: number): number {
  if (i + 2 > end) return -1;
  const tag = b[i]!;
  if ((tag & 0x1f) === 0x1f) return -1; // multi-byte tags never occur in key formats
  let len = b[i + 1]!;
  let p = i + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 3 || p + n > end || b[p] === 0) return -1; // indefinite or non-minimal length
    len = 0;
    for (let k = 0; k < n; k++) len = len * 256 + b[p++]!;
    if (len < 0x80) return -1; // DER: short form was required
  }
  const stop = p + len;
  if (stop > end) return -1;
  if (tag & 0x20) {
    if (depth >= MAX_DEPTH) return -1;
    for (let q = p; q < stop; ) {
      q = tlvEnd(b, q, stop, depth + 1);
      if (q < 0) return -1;
    }
  }
  return stop;
}

/**
 * True for a DER SEQUENCE spanning the whole value whose first member is a SEQUENCE or an
 * INTEGER: the shape shared by SubjectPublicKeyInfo, PKCS#8, PKCS#1 (public and private), SEC1
 * and X.509 certificates.
 */
export function isDerKeyStructure(b: Uint8Array): boolean {
  if (b.length < 4 || b[0] !== 0x30 || tlvEnd(b, 0, b.length, 0) !== b.length) return false;
  const first = b[1]! & 0x80 ? 2 + (b[1]! & 0x7f) : 2;
  return b[first] === 0x30 || b[first] === 0x02;
}

function isJwkText(t: string): boolean {
  if (!t.startsWith('{')) return false;
  let v: unknown;
  try {
    v = JSON.parse(t);
  } catch {
    return false;
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) return false;
  const o = v as Record<string, unknown>;
  return typeof o.kty === 'string' || Array.isArray(o.keys);
}

function isKeyText(text: string): boolean {
  const t = text.trim();
  if (t.includes('-----BEGIN') || SSH_PUBLIC.test(t) || isJwkText(t)) return true;
  // A PEM body without its armour, or DER written out as hex.
  const compact = t.replace(/\s+/g, '');
  if (HEX_TEXT.test(compact) && isDerKeyStructure(Buffer.from(compact, 'hex'))) return true;
  return B64_TEXT.test(compact) && isDerKeyStructure(Buffer.from(compact, 'base64'));
}

/** True when an intended HMAC secret (string or bytes) is really key material. */
export function looksLikeKeyMaterial(secret: Uint8Array | string): boolean {
  if (typeof secret === 'string') return isKeyText(secret);
  if (isDerKeyStructure(secret)) return true;
  let text: string;
  try {
    text = utf8.decode(secret);
  } catch {
    return false; // not text, and not DER: random bytes
  }
  return isKeyText(text);
}
