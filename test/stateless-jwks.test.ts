/**
 * SEC-28: keys from a pinned JWKS only — published with `publicJwks`, fetched from a pinned URL
 * (https, or loopback http when allowed; no redirects), rotated by swapping the verifier's ring.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import { generateKeyPairSync } from 'node:crypto';
import { ConfigError } from '../src/errors.js';
import { JwtSigner, JwtVerifier, fetchJwks, jwksKeyRing, publicJwks } from '../src/stateless/index-jwt.js';
import { listen, close } from '../bench/lib/http.js';

const common = { issuer: 'https://id.example', audience: 'api' };
const k1 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const k2 = generateKeyPairSync('ed25519');
let current: object = {};
let base = '';
const server = http.createServer((req, res) => {
  if (req.url === '/redirect') {
    res.writeHead(302, { location: '/jwks' }).end();
    return;
  }
  res.setHeader('content-type', 'application/json');
  res.end(req.url === '/bad' ? '{"keys":[{"kty":"oct","k":"AAAA","kid":"x"}]}' : JSON.stringify(current));
});
beforeAll(async () => {
  base = await listen(server);
});
afterAll(() => close(server));

describe('SEC-28: pinned JWKS', () => {
  it('SEC-28: fetches a pinned JWKS, verifies, and rotates keys by swapping the ring', async () => {
    const s1 = new JwtSigner({ keys: [{ kid: 'a', key: k1.privateKey }], ...common });
    current = publicJwks(s1.ring);
    const verifier = new JwtVerifier({ keys: jwksKeyRing(await fetchJwks(`${base}/jwks`, { allowHttpLoopback: true })), ...common });
    expect(verifier.verifySync(s1.sign({ sub: 'u' })).sub).toBe('u');

    const s2 = new JwtSigner({ keys: [{ kid: 'b', key: k2.privateKey }, { kid: 'a', key: k1.privateKey }], ...common });
    const t2 = s2.sign({ sub: 'v' });
    expect(() => verifier.verifySync(t2)).toThrow(expect.objectContaining({ code: 'ERR_TOKEN_INVALID' }));
    current = publicJwks(s2.ring);
    verifier.setKeys(jwksKeyRing(await fetchJwks(`${base}/jwks`, { allowHttpLoopback: true })));
    expect(verifier.verifySync(t2).sub).toBe('v');
    expect(verifier.verifySync(s1.sign({ sub: 'u' })).sub).toBe('u');
  });

  it('SEC-28: refuses plain http (unless loopback is allowed), redirects, and documents with non-public keys', async () => {
    await expect(fetchJwks(`${base}/jwks`)).rejects.toBeInstanceOf(ConfigError);
    await expect(fetchJwks('http://id.example/jwks')).rejects.toBeInstanceOf(ConfigError);
    await expect(fetchJwks(`${base}/redirect`, { allowHttpLoopback: true })).rejects.toThrow();
    await expect(fetchJwks(`${base}/bad`, { allowHttpLoopback: true })).rejects.toBeInstanceOf(ConfigError);
  });

  it('SEC-28: a chunked body without Content-Length is cut off at the cap, not read whole (96 MiB offered, at most a few MiB sent)', async () => {
    const offered = 96 * 1024 * 1024;
    let sent = 0;
    let closed!: Promise<void>;
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    const flood = http.createServer((_req, res) => {
      closed = new Promise((resolve) => res.on('close', () => resolve()));
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"keys":[');
      const pump = (): void => {
        while (sent < offered && !res.destroyed) {
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
    });
    const url = await listen(flood);
    try {
      const rejected = await fetchJwks(`${url}/jwks`, { allowHttpLoopback: true, timeoutMs: 30_000 }).then(
        () => null,
        (e: unknown) => e,
      );
      expect(rejected).toBeInstanceOf(ConfigError);
      expect((rejected as Error).message).toBe('JWKS document too large');
      await closed;
      // Socket buffers on both sides hold some; the old code made the server send all 96 MiB.
      expect(sent).toBeLessThan(16 * 1024 * 1024);
    } finally {
      await close(flood);
    }
  });
});
