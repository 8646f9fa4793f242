/**
 * Stateless rows (sealed cookies, JWT, refresh tokens):
 * - seal-unseal: one seal + one unseal of the same small payload (sessionward vs iron-session)
 * - jwt-verify-hs256 / jwt-verify-es256: verify with the same checks (signature, exp, iss, aud)
 *   in sessionward, jose, jsonwebtoken (KeyObject) and fast-jwt (no cache)
 * - http-read-sealed: bare node:http vs node:http + getSealedSession reading a sealed cookie
 * - refresh-rotate-redis: refresh-token rotations per second on RedisStore (own redis-server),
 *   10 families rotating concurrently
 */
import http from 'node:http';
import { createSecretKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { createClient } from 'redis';
import { sealData, unsealData } from 'iron-session';
import * as jose from 'jose';
import jsonwebtoken from 'jsonwebtoken';
import { createVerifier } from 'fast-jwt';
import { NodeSealer } from '../../src/stateless/seal.js';
import { getSealedSession, createSealedSessions, type SealedSessionOptions } from '../../src/stateless/index-sealed.js';
import { JwtSigner, JwtVerifier, RefreshTokens } from '../../src/stateless/index-jwt.js';
import { RedisStore } from '../../src/stores/redis.js';
import { startRedis } from '../../test/helpers/redis-server.js';
import { measureHttp, listen, close, compare, serverCpuUs, type Sample } from '../lib/http.js';
import type { BenchContext, Scenario } from '../lib/types.js';

const PAYLOAD = { user: { id: 42, name: 'ada', roles: ['admin'] }, csrf: 'x'.repeat(32) };
const ISS = 'https://id.example';
const AUD = 'api';

/** Milliseconds of a micro-benchmark window: at most 2 s, however long the HTTP windows are. */
const ms = (seconds: number): number => Math.min(2000, seconds * 1000);

/** Calls per second of `fn` over `ms` (and CPU µs per call), calling in batches so the clock is read rarely. */
async function rate(fn: () => unknown, ms: number, async = false): Promise<Sample> {
  const batch = async ? 20 : 200;
  const deadline = performance.now() + ms;
  const cpu0 = serverCpuUs();
  const t0 = performance.now();
  let n = 0;
  while (performance.now() < deadline) {
    if (async) for (let i = 0; i < batch; i++) await fn();
    else for (let i = 0; i < batch; i++) fn();
    n += batch;
  }
  return { opsPerSec: Math.round(n / ((performance.now() - t0) / 1000)), cpuUsPerOp: (serverCpuUs() - cpu0) / n };
}

async function sealRows(ctx: BenchContext): Promise<void> {
  const password = 'iron-session-password-at-least-32-chars!';
  const ring = new NodeSealer([{ id: 'k1', key: randomBytes(32) }]);
  const ironSeal = await sealData(PAYLOAD, { password });
  if (JSON.stringify(await unsealData(ironSeal, { password })) !== JSON.stringify(PAYLOAD)) throw new Error('iron-session round trip failed');
  // ratio: sessionward's seal+unseal rate over iron-session's
  await compare(ctx, 'seal-unseal', {
    'iron-session': (s) => rate(async () => unsealData(await sealData(PAYLOAD, { password }), { password }), ms(s), true),
    sessionward: (s) => rate(() => {
      const o = ring.openSync('s', ring.sealSync('s', JSON.stringify(PAYLOAD)));
      if (typeof o === 'string') throw new Error('unseal failed');
      JSON.parse(o.payload);
    }, ms(s)),
  }, { baseline: 'iron-session' });
}

async function jwtRows(ctx: BenchContext): Promise<void> {
  const secret = randomBytes(32);
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const cases = [
    { scenario: 'jwt-verify-hs256', alg: 'HS256' as const, signKey: { kid: 'k', secret }, verifyKey: { kid: 'k', secret }, joseKey: secret as Uint8Array | jose.CryptoKey, nodeKey: createSecretKey(secret), fastKey: secret as Buffer | string },
    {
      scenario: 'jwt-verify-es256', alg: 'ES256' as const, signKey: { kid: 'k', key: ec.privateKey }, verifyKey: { kid: 'k', key: ec.publicKey },
      joseKey: await jose.importSPKI(ec.publicKey.export({ format: 'pem', type: 'spki' }) as string, 'ES256'),
      nodeKey: ec.publicKey, fastKey: ec.publicKey.export({ format: 'pem', type: 'spki' }) as string,
    },
  ];
  for (const c of cases) {
    // One token for all: typ at+jwt, kid, iss, aud, sub, iat, exp, jti.
    const token = new JwtSigner({ keys: [c.signKey], issuer: ISS, audience: AUD, expiresIn: 3600 }).sign({ sub: 'user-1' });
    const ours = new JwtVerifier({ keys: [c.verifyKey], issuer: ISS, audience: AUD });
    const fast = createVerifier({ key: c.fastKey, algorithms: [c.alg], allowedIss: ISS, allowedAud: AUD, cache: false });
    const jwtOpts = { algorithms: [c.alg], issuer: ISS, audience: AUD };
    // Sanity: every subject accepts the token.
    ours.verifySync(token);
    await jose.jwtVerify(token, c.joseKey, { algorithms: [c.alg], issuer: ISS, audience: AUD });
    jsonwebtoken.verify(token, c.nodeKey, jwtOpts);
    fast(token);
    // ratio: each library's verifications per second over fast-jwt's
    await compare(ctx, c.scenario, {
      'fast-jwt': (s) => rate(() => fast(token), ms(s)),
      sessionward: (s) => rate(() => ours.verifySync(token), ms(s)),
      jose: (s) => rate(() => jose.jwtVerify(token, c.joseKey, { algorithms: [c.alg], issuer: ISS, audience: AUD }), ms(s), true),
      jsonwebtoken: (s) => rate(() => jsonwebtoken.verify(token, c.nodeKey, jwtOpts), ms(s)),
    }, { baseline: 'fast-jwt' });
  }
}

async function httpRows(ctx: BenchContext): Promise<void> {
  const options: SealedSessionOptions = { keys: [{ id: 'k1', key: randomBytes(32) }], insecureDevelopmentCookies: true, touchAfter: 3600_000 };
  const core = createSealedSessions<typeof PAYLOAD>(options);
  const s = await core.load(undefined);
  Object.assign(s, PAYLOAD);
  await s.save();
  const cookie = s.setCookieHeaders[0]!.split(';')[0]!;
  const body = JSON.stringify({ ok: true });
  const bare = http.createServer((_req, res) => {
    res.setHeader('Content-Type', 'application/json');
    res.end(body);
  });
  const sw = http.createServer(async (req, res) => {
    const session = await getSealedSession<typeof PAYLOAD>(req, res, options);
    if (!session.user) {
      res.statusCode = 401;
      res.end();
      return;
    }
    res.setHeader('Content-Type', 'application/json');
    res.end(body);
  });
  const [bareUrl, swUrl] = [await listen(bare), await listen(sw)];
  try {
    const load = { connections: ctx.connections, headers: { cookie } };
    await compare(ctx, 'http-read-sealed', {
      bare: (duration) => measureHttp(bareUrl, { ...load, duration }),
      sessionward: (duration) => measureHttp(swUrl, { ...load, duration }),
    });
  } finally {
    await close(bare);
    await close(sw);
  }
}

async function refreshRows(ctx: BenchContext, ms: number): Promise<void> {
  const server = await startRedis();
  const client = createClient({ url: `redis://127.0.0.1:${server.port}`, disableOfflineQueue: true });
  client.on('error', (e) => ctx.log(`redis client: ${String(e)}`));
  await client.connect();
  try {
    const rt = new RefreshTokens({ store: new RedisStore({ client, prefix: 'bench:rt:' }) });
    const families = 10;
    const tokens = await Promise.all(Array.from({ length: families }, (_, i) => rt.issue({ userId: `u${i}`, sid: `s${i}` }).then((x) => x.refreshToken)));
    let rotations = 0;
    const t0 = performance.now();
    const deadline = t0 + ms;
    await Promise.all(tokens.map(async (t) => {
      let tok = t;
      while (performance.now() < deadline) {
        tok = (await rt.rotate(tok)).refreshToken;
        rotations++;
      }
    }));
    ctx.report({ scenario: 'refresh-rotate-redis', subject: 'sessionward', opsPerSec: Math.round(rotations / ((performance.now() - t0) / 1000)), families });
  } finally {
    await client.quit().catch(() => {});
    await server.stop();
  }
}

const scenario: Scenario = async (ctx) => {
  await sealRows(ctx);
  await jwtRows(ctx);
  await httpRows(ctx);
  if (ctx.wants('refresh-rotate-redis')) await refreshRows(ctx, 2000);
};

export default scenario;
