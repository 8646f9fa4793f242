/**
 * HS/RS key confusion at configuration (RFC 8725 §3.1; SEC-27): public key material an attacker
 * can read (a PEM, a DER blob, a JWK, a certificate) must never become an HMAC secret, whether it
 * is handed over as a string or as bytes. Random secrets in every usual spelling still pass.
 */
import { describe, expect, it } from 'vitest';
import { generateKeyPairSync, randomBytes, X509Certificate, type KeyObject } from 'node:crypto';
import { ConfigError } from '../src/errors.js';
import { JwtKeyRing } from '../src/stateless/index-jwt.js';

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const ed = generateKeyPairSync('ed25519');

// A self-signed P-256 test certificate (public material only): a server's TLS certificate is
// the most public key material there is.
const CERT_PEM = `-----BEGIN CERTIFICATE-----
MIIBizCCATGgAwIBAgIUNlihBM3af9Ewnz8Obx2IEYH7VJAwCgYIKoZIzj0EAwIw
GzEZMBcGA1UEAwwQc2Vzc2lvbndhcmQtdGVzdDAeFw0yNjEyMDMwNzMzNTVaFw0z
NjExMzAwNzMzNTVaMBsxGTAXBgNVBAMMEHNlc3Npb253YXJkLXRlc3QwWTATBgcq
hkjOPQIBBggqhkjOPQMBBwNCAAR9q+KF7cEK4ppHXqq2Dl4wUXrGIw2q49N99+sQ
xXdZCVlN04AChmCjkSXSyZ1b5JE2J0fTbuhhof0WU4ITH07ho1MwUTAdBgNVHQ4E
FgQUJbj3noibCzKBZDNBib98MyH+ggwwHwYDVR0jBBgwFoAUJbj3noibCzKBZDNB
ib98MyH+ggwwDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNIADBFAiEA09b1
WvY7Ds0yyM8N0KTTGoMEZoHKm833B0E01hHiO8gCIGwJB3Yb2zu4JrX09hKJ0U+w
24Mkrjf5BEFujER68zoW
-----END CERTIFICATE-----
`;

const pem = (k: KeyObject, type: string): string => k.export({ format: 'pem', type } as never) as unknown as string;
const der = (k: KeyObject, type: string): Buffer => k.export({ format: 'der', type } as never) as unknown as Buffer;

/** Every piece of key material, as the bytes a misconfigured app might pass. */
const pems: Record<string, string> = {
  'RSA SPKI PEM': pem(rsa.publicKey, 'spki'),
  'RSA PKCS#1 public PEM': pem(rsa.publicKey, 'pkcs1'),
  'RSA PKCS#8 private PEM': pem(rsa.privateKey, 'pkcs8'),
  'EC SPKI PEM': pem(ec.publicKey, 'spki'),
  'Ed25519 SPKI PEM': pem(ed.publicKey, 'spki'),
  'X.509 certificate PEM': CERT_PEM,
};
const ders: Record<string, Buffer> = {
  'RSA SPKI DER': der(rsa.publicKey, 'spki'),
  'RSA PKCS#1 public DER': der(rsa.publicKey, 'pkcs1'),
  'RSA PKCS#1 private DER': der(rsa.privateKey, 'pkcs1'),
  'RSA PKCS#8 private DER': der(rsa.privateKey, 'pkcs8'),
  'EC SPKI DER': der(ec.publicKey, 'spki'),
  'EC SEC1 private DER': der(ec.privateKey, 'sec1'),
  'Ed25519 SPKI DER (44 bytes)': der(ed.publicKey, 'spki'),
  'Ed25519 PKCS#8 private DER': der(ed.privateKey, 'pkcs8'),
  'X.509 certificate DER': Buffer.from(new X509Certificate(CERT_PEM).raw),
};
const jwks: Record<string, string> = {
  'RSA public JWK': JSON.stringify(rsa.publicKey.export({ format: 'jwk' })),
  'EC public JWK': JSON.stringify(ec.publicKey.export({ format: 'jwk' })),
  'a JWKS document': JSON.stringify({ keys: [{ ...ed.publicKey.export({ format: 'jwk' }), kid: 'k1' }] }),
};

function refusedAsKeyConfusion(secret: Uint8Array | string, label: string): void {
  let err: unknown;
  try {
    new JwtKeyRing([{ kid: 'hs', secret }]);
  } catch (e) {
    err = e;
  }
  expect(err, `accepted as an HMAC secret: ${label}`).toBeInstanceOf(ConfigError);
  expect(err).toMatchObject({ code: 'ERR_CONFIG' });
  expect((err as Error).message, label).toMatch(/key confusion/);
}

describe('SEC-27: key material is never an HMAC secret', () => {
  it('SEC-27: PEM keys and certificates given as bytes (Buffer or Uint8Array) are refused, as strings already were', () => {
    for (const [label, text] of Object.entries(pems)) {
      refusedAsKeyConfusion(text, `${label} (string)`);
      refusedAsKeyConfusion(Buffer.from(text), `${label} (Buffer)`);
      refusedAsKeyConfusion(new Uint8Array(Buffer.from(text)), `${label} (Uint8Array)`);
    }
  });

  it('SEC-27: DER SubjectPublicKeyInfo, PKCS#8, PKCS#1, SEC1 and certificate bytes are refused', () => {
    for (const [label, bytes] of Object.entries(ders)) {
      refusedAsKeyConfusion(bytes, label);
      refusedAsKeyConfusion(new Uint8Array(bytes), `${label} (Uint8Array)`);
    }
  });

  it('SEC-27: DER key material spelled as base64, base64url or hex text is refused (string or bytes)', () => {
    for (const [label, bytes] of Object.entries(ders)) {
      const b64 = bytes.toString('base64');
      const lines = b64.replace(/(.{64})/g, '$1\n');
      for (const [spelling, text] of [['base64', b64], ['base64 lines', lines], ['base64url', bytes.toString('base64url')], ['hex', bytes.toString('hex')]]) {
        refusedAsKeyConfusion(text!, `${label} as ${spelling!}`);
        refusedAsKeyConfusion(Buffer.from(text!), `${label} as ${spelling!} bytes`);
      }
    }
  });

  it('SEC-27: JWK and JWKS JSON, as a string or as bytes, are refused', () => {
    for (const [label, text] of Object.entries(jwks)) {
      refusedAsKeyConfusion(text, `${label} (string)`);
      refusedAsKeyConfusion(Buffer.from(text), `${label} (Buffer)`);
      refusedAsKeyConfusion(` \n${text}\n`, `${label} (padded)`);
    }
  });

  it('SEC-27: an OpenSSH public key line is refused', () => {
    const raw = (ed.publicKey.export({ format: 'jwk' }) as { x: string }).x;
    const field = (b: Buffer): Buffer => Buffer.concat([Buffer.from([0, 0, 0, b.length]), b]);
    const wire = Buffer.concat([field(Buffer.from('ssh-ed25519')), field(Buffer.from(raw, 'base64url'))]);
    const line = `ssh-ed25519 ${wire.toString('base64')} ops@example`;
    refusedAsKeyConfusion(line, 'ssh-ed25519 (string)');
    refusedAsKeyConfusion(Buffer.from(line), 'ssh-ed25519 (Buffer)');
  });

  it('SEC-27: a KeyObject is not a secret', () => {
    expect(() => new JwtKeyRing([{ kid: 'hs', secret: rsa.publicKey as never }])).toThrow(ConfigError);
  });

  it('SEC-31: random secrets in their usual spellings are still accepted (no false positives)', () => {
    for (let i = 0; i < 3_000; i++) {
      const bytes = randomBytes([32, 48, 64, 100][i % 4]!);
      expect(() => new JwtKeyRing([{ kid: 'hs', secret: bytes }])).not.toThrow();
      expect(() => new JwtKeyRing([{ kid: 'hs', secret: bytes.toString('base64url') }])).not.toThrow();
      expect(() => new JwtKeyRing([{ kid: 'hs', secret: Buffer.from(bytes.toString('hex')) }])).not.toThrow();
    }
    // A DER-looking prefix alone is not enough: the whole value must be one well-formed structure.
    const prefixed = Buffer.concat([Buffer.from([0x30, 0x1e, 0x30, 0x7f]), randomBytes(28)]);
    expect(() => new JwtKeyRing([{ kid: 'hs', secret: prefixed }])).not.toThrow();
    expect(() => new JwtKeyRing([{ kid: 'hs', secret: 'correct horse battery staple, but forty bytes long' }])).not.toThrow();
    expect(() => new JwtKeyRing([{ kid: 'hs', secret: '{"not":"a key","but":"still json, 32 bytes+"}' }])).not.toThrow();
  });
});
