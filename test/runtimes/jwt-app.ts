/**
 * JWT sign + verify (HS256 and ES256) as a runtime runs it: `sessionward/jwt` is built on node:crypto,
 * so this runs where node:crypto exists (Bun, Deno, workerd with nodejs_compat), not on the edge runtime.
 */
import { generateKeyPairSync } from 'node:crypto';
import { JwtSigner, JwtVerifier } from '../../src/stateless/index-jwt.js';

export async function selfTest(): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const rings = {
    HS256: { sign: [{ kid: 'h1', secret: 'jwt-runtime-secret-0123456789abcdefghijkl' }], verify: [{ kid: 'h1', secret: 'jwt-runtime-secret-0123456789abcdefghijkl' }] },
    ES256: { sign: [{ kid: 'e1', algorithms: ['ES256'], key: privateKey }], verify: [{ kid: 'e1', algorithms: ['ES256'], key: publicKey }] },
  } as const;
  for (const [alg, ring] of Object.entries(rings)) {
    try {
      const signer = new JwtSigner({ keys: ring.sign as never, issuer: 'https://id.example', audience: 'api' });
      const verifier = new JwtVerifier({ keys: ring.verify as never, issuer: 'https://id.example', audience: 'api' });
      const token = signer.sign({ sub: 'u1', sid: 's1' });
      const claims = await verifier.verify(token);
      const tampered = await verifier.verify(`${token.slice(0, -2)}AA`).then(() => 'accepted', (e: { code?: string }) => e.code);
      out[alg] = { sub: claims.sub, tampered };
    } catch (e) {
      out[alg] = { error: String((e as Error).stack ?? e) };
    }
  }
  return out;
}

export default {
  async fetch(): Promise<Response> {
    return Response.json(await selfTest());
  },
};
