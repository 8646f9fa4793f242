/**
 * The anomaly detector over real HTTP requests (node adapter), from distinct loopback source
 * addresses (127.0.0.0/8 is all loopback, so a client can pick its network), on memory and on a
 * shared Redis with two server instances.
 */
import { describe, it, expect, afterAll } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { createClient } from 'redis';
import { SessionManager, MemoryStore, type SessionStore } from '../src/index.js';
import { RedisStore } from '../src/stores/redis.js';
import { nodeSessions, sendError } from '../src/adapters/node.js';
import { guardNodeRequest } from '../src/csrf/index.js';
import { Detector, type Anomaly, type DetectorOptions } from '../src/monitor/detector.js';
import { fanOut, type SessionwardEvent } from '../src/monitor/events.js';
import { networkOf, userAgentFamily } from '../src/monitor/network.js';
import { SECRET } from './helpers/core.js';

const CHROME_LINUX = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36';
const CHROME_LINUX_NEXT = CHROME_LINUX.replace('126.0.0.0', '127.0.0.0');
const FIREFOX_WIN = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0';

interface Instance {
  url: string;
  anomalies: Anomaly[];
  events: SessionwardEvent[];
  manager: SessionManager<Record<string, unknown>>;
  close(): Promise<void>;
}

async function start(store: SessionStore, detectorStore: SessionStore, over: Partial<DetectorOptions> = {}): Promise<Instance> {
  const anomalies: Anomaly[] = [];
  const events: SessionwardEvent[] = [];
  const late: { detector?: Detector } = {};
  const sink = fanOut((e) => events.push(e), (e) => late.detector?.onEvent(e));
  const manager = new SessionManager<Record<string, unknown>>({ store, secrets: [SECRET], cookie: { insecureDevelopmentCookies: true }, onEvent: sink });
  const detector = new Detector({ store: detectorStore, notify: (a) => void anomalies.push(a), onEvent: sink, hashSid: (id) => manager.sid(id), ...over });
  late.detector = detector;
  const sessions = nodeSessions(manager);
  const guard = { origin: 'http://app.test', onEvent: sink };
  const server = http.createServer(async (req, res) => {
    try {
      const session = await sessions.load(req);
      if (req.url === '/login') await session.login(String(req.headers['x-user'] ?? 'alice'));
      else if (req.url === '/form') {
        if (!(await guardNodeRequest(req, res, session, guard))) return;
      } else await detector.check(session, { ip: req.socket.remoteAddress, userAgent: req.headers['user-agent'] });
      await sessions.commit(session, res);
      res.end(JSON.stringify({ user: session.userId }));
    } catch (e) {
      if (!sendError(res, e)) {
        res.statusCode = 500;
        res.end(String(e));
      }
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, anomalies, events, manager, close: () => new Promise((r) => server.close(() => r())) };
}

/** One request from `from` (a loopback source address); returns status, body and the next cookie. */
/**
 * `store` with a count of its calls in flight. The detector counts events in the background
 * (`onEvent` never blocks a request); its store calls start synchronously when an event arrives, so
 * none in flight at a timer tick means it has finished, however slow the machine.
 */
function tracked(store: SessionStore): { store: SessionStore; busy: () => boolean } {
  let inFlight = 0;
  const wrapped = new Proxy(store, {
    get(target, key) {
      const v: unknown = Reflect.get(target, key);
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) => {
        inFlight++;
        return Promise.resolve((v as (...a: unknown[]) => unknown).apply(target, args)).finally(() => inFlight--);
      };
    },
  });
  return { store: wrapped, busy: () => inFlight > 0 };
}

/** Polls `done` until true; fails after `ms`. */
async function until(done: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!done()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

function request(url: string, path: string, opts: { from: string; ua?: string; cookie?: string; method?: string; headers?: Record<string, string> }) {
  return new Promise<{ status: number; body: string; cookie: string }>((resolve, reject) => {
    const req = http.request(`${url}${path}`, {
      method: opts.method ?? (path === '/login' ? 'POST' : 'GET'),
      localAddress: opts.from,
      agent: false,
      headers: { 'user-agent': opts.ua ?? CHROME_LINUX, ...(opts.cookie ? { cookie: opts.cookie } : {}), ...opts.headers },
    }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => {
        let cookie = opts.cookie ?? '';
        for (const sc of res.headers['set-cookie'] ?? []) {
          const [pair] = sc.split(';');
          cookie = /max-age=0/i.test(sc) ? '' : pair!;
        }
        resolve({ status: res.statusCode!, body, cookie });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

async function signIn(url: string, from: string, ua = CHROME_LINUX, user = 'alice') {
  const r = await request(url, '/login', { from, ua, headers: { 'x-user': user } });
  expect(r.status).toBe(200);
  return r.cookie;
}

describe('detector: fingerprints', () => {
  it('networks are /24 and /64; browser families ignore versions', () => {
    expect(networkOf('203.0.113.7')).toBe(networkOf('203.0.113.250'));
    expect(networkOf('203.0.113.7')).not.toBe(networkOf('203.0.114.7'));
    expect(networkOf('::ffff:203.0.113.7')).toBe('203.0.113.0/24');
    expect(networkOf('2001:db8:1:2:aaaa::1')).toBe(networkOf('2001:db8:1:2:ffff::9'));
    expect(networkOf('2001:db8:1:3::1')).not.toBe(networkOf('2001:db8:1:2::1'));
    for (const bad of ['', 'x', '999.1.1.1', '1:2:3', ':::', 'a'.repeat(100), undefined]) expect(networkOf(bad)).toBeNull();
    expect(userAgentFamily(CHROME_LINUX)).toBe(userAgentFamily(CHROME_LINUX_NEXT));
    expect(userAgentFamily(FIREFOX_WIN)).toBe('firefox/windows');
  });
});

describe('detector on memory (real requests)', () => {
  it('SEC-35: a new network alone, or a browser update, only logs: the user keeps working', async () => {
    const store = new MemoryStore();
    const app = await start(store, new MemoryStore());
    try {
      const cookie = await signIn(app.url, '127.0.0.2');
      expect((await request(app.url, '/me', { from: '127.0.5.2', cookie })).status).toBe(200);
      expect((await request(app.url, '/me', { from: '127.0.5.3', cookie, ua: CHROME_LINUX_NEXT })).status).toBe(200);
      expect((await request(app.url, '/me', { from: '127.0.5.3', cookie })).status).toBe(200);
      const detected = app.events.filter((e) => e.type === 'anomaly.detected');
      expect(detected).toHaveLength(1);
      expect(detected[0]).toMatchObject({ signal: 'ip_change', action: 'log', score: 1 });
      expect(app.anomalies).toHaveLength(0); // log is below notify
    } finally {
      await app.close();
    }
  });

  it('SEC-35: the same session used from two networks at once asks for the password again, until the owner re-authenticates', async () => {
    const app = await start(new MemoryStore(), new MemoryStore());
    try {
      const cookie = await signIn(app.url, '127.0.0.2');
      expect((await request(app.url, '/me', { from: '127.0.7.9', cookie })).status).toBe(200); // thief's network: logged
      const back = await request(app.url, '/me', { from: '127.0.0.2', cookie }); // owner again, while the thief is active
      expect(back.status).toBe(401);
      expect(JSON.parse(back.body)).toEqual({ error: 'ERR_REAUTH_REQUIRED' });
      expect(app.anomalies.at(-1)).toMatchObject({ signals: ['concurrent_networks'], action: 'step_up', userId: 'alice' });
      expect(app.anomalies.at(-1)!.sid).toMatch(/^[\w-]{22}$/);
      // Every request of this session now needs the step-up, from either place.
      expect((await request(app.url, '/me', { from: '127.0.7.9', cookie })).status).toBe(401);
      // The owner signs in again (same user: a step-up that rotates the token) and carries on.
      const fresh = (await request(app.url, '/login', { from: '127.0.0.2', cookie, headers: { 'x-user': 'alice' } })).cookie;
      expect((await request(app.url, '/me', { from: '127.0.0.2', cookie: fresh })).status).toBe(200);
      // The copy of the old cookie is worth nothing after that rotation.
      expect(JSON.parse((await request(app.url, '/me', { from: '127.0.7.9', cookie })).body)).toEqual({ user: null });
    } finally {
      await app.close();
    }
  });

  it('policy end_session: a browser-family change ends the session', async () => {
    const store = new MemoryStore();
    const app = await start(store, new MemoryStore(), { policy: { ua_change: 'end_session' } });
    try {
      const cookie = await signIn(app.url, '127.0.0.2');
      const r = await request(app.url, '/me', { from: '127.0.0.2', cookie, ua: FIREFOX_WIN });
      expect(r.status).toBe(401);
      expect(JSON.parse((await request(app.url, '/me', { from: '127.0.0.2', cookie })).body)).toEqual({ user: null });
      expect(app.anomalies.at(-1)).toMatchObject({ signals: ['ua_change'], action: 'end_session' });
    } finally {
      await app.close();
    }
  });

  it('policy end_all: every session of the user ends', async () => {
    const app = await start(new MemoryStore(), new MemoryStore(), { policy: { concurrent_networks: 'end_all' } });
    try {
      const laptop = await signIn(app.url, '127.0.0.2');
      const phone = await signIn(app.url, '127.0.3.2');
      await request(app.url, '/me', { from: '127.0.9.9', cookie: laptop });
      expect((await request(app.url, '/me', { from: '127.0.0.2', cookie: laptop })).status).toBe(401);
      expect(JSON.parse((await request(app.url, '/me', { from: '127.0.3.2', cookie: phone })).body)).toEqual({ user: null });
    } finally {
      await app.close();
    }
  });

  it('impossible travel and ASN change through the geo hook; a failing hook is ignored', async () => {
    const geo = (ip: string) => {
      if (ip.startsWith('127.0.0.')) return { lat: 52.52, lon: 13.4, asn: 3320 }; // Berlin
      if (ip.startsWith('127.0.1.')) return { lat: -33.87, lon: 151.21, asn: 1221 }; // Sydney
      throw new Error('lookup down');
    };
    const app = await start(new MemoryStore(), new MemoryStore(), { geo });
    try {
      const cookie = await signIn(app.url, '127.0.2.2');
      expect((await request(app.url, '/me', { from: '127.0.0.2', cookie })).status).toBe(200); // hook throws for .2.x: nothing known yet
      const r = await request(app.url, '/me', { from: '127.0.1.2', cookie });
      expect(r.status).toBe(401);
      expect(app.anomalies.at(-1)!.signals).toEqual(['ip_change', 'impossible_travel', 'asn_change']);
    } finally {
      await app.close();
    }
  });

  it('a burst that arrives while the store is slow is counted in full: 12 events at once reach a limit of 10', async () => {
    // Each store call takes 20 ms, so all 12 events are in flight together, as in a real flood
    // (or a loaded machine). One compare-and-set per event made them race: 4 gave up after their
    // retries and the count stopped at 8.
    const memory = new MemoryStore();
    const slow = new Proxy(memory, {
      get(target, key) {
        const v: unknown = Reflect.get(target, key);
        if (typeof v !== 'function') return v;
        return async (...args: unknown[]) => {
          await new Promise((r) => setTimeout(r, 20));
          return (v as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
    const shared = tracked(slow);
    const found: Anomaly[] = [];
    const detectors = [0, 1].map(() => new Detector({ store: shared.store, invalidTokenLimit: 10, notify: (x) => void found.push(x) }));
    for (let i = 0; i < 12; i++) detectors[i % 2]!.onEvent({ type: 'token.invalid', at: new Date().toISOString(), ip: `127.0.6.${i + 2}` });
    await until(() => !shared.busy());
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ signals: ['invalid_token_flood'], action: 'notify', source: '127.0.6.0/24' });
  });

  it('CSRF refusal bursts per source network raise one anomaly; a throwing notifier changes nothing', async () => {
    const app = await start(new MemoryStore(), new MemoryStore(), { csrfLimit: 5 });
    const seen: Anomaly[] = [];
    const throwing = new Detector({ store: new MemoryStore(), csrfLimit: 5, notify: (a) => { seen.push(a); throw new Error('pager down'); } });
    try {
      for (let i = 0; i < 8; i++) {
        const r = await request(app.url, '/form', { from: `127.0.4.${10 + i}`, method: 'POST', headers: { origin: 'http://evil.test' } });
        expect(r.status).toBe(403);
      }
      for (const e of app.events.filter((x) => x.type === 'csrf.rejected')) throwing.onEvent(e);
      await new Promise((r) => setTimeout(r, 50));
      expect(seen).toHaveLength(1);
      const bursts = app.anomalies.filter((a) => a.signals[0] === 'csrf_burst');
      expect(bursts).toHaveLength(1);
      expect(bursts[0]).toMatchObject({ action: 'notify', source: '127.0.4.0/24' });
    } finally {
      await app.close();
    }
  });
});

describe('detector across two instances sharing Redis', () => {
  const run = randomBytes(4).toString('hex');
  const client = createClient({ url: 'redis://127.0.0.1:6379' });
  client.on('error', () => undefined);
  afterAll(async () => {
    const keys = await client.keys(`swdet:${run}:*`);
    if (keys.length) await client.del(keys);
    await client.quit();
  });

  it('a session moved between networks on instance A and B is caught on either; a flood split over both is counted once', async () => {
    await client.connect();
    const store = new RedisStore({ client, prefix: `swdet:${run}:s:` });
    const shared = tracked(new RedisStore({ client, prefix: `swdet:${run}:d:` }));
    const a = await start(store, shared.store, { invalidTokenLimit: 10 });
    const b = await start(store, shared.store, { invalidTokenLimit: 10 });
    try {
      const cookie = await signIn(a.url, '127.0.0.2');
      expect((await request(b.url, '/me', { from: '127.0.8.2', cookie })).status).toBe(200);
      expect((await request(a.url, '/me', { from: '127.0.0.2', cookie })).status).toBe(401);
      expect(a.anomalies.at(-1)).toMatchObject({ signals: ['concurrent_networks'], action: 'step_up' });

      // 12 forged cookies from one network, alternating instances: one flood anomaly in all.
      for (let i = 0; i < 12; i++) {
        const inst = i % 2 ? a : b;
        await request(inst.url, '/me', { from: `127.0.6.${i + 2}`, cookie: `sid=forged${i}.mac` });
      }
      // Counted in the background: wait until both detectors are done, not a fixed 100 ms that a
      // loaded machine (or a busy shared Redis) overshoots. Then exactly one flood, not "at least".
      await until(() => !shared.busy());
      const floods = [...a.anomalies, ...b.anomalies].filter((x) => x.signals[0] === 'invalid_token_flood');
      expect(floods).toHaveLength(1);
      expect(floods[0]!.source).toBe('127.0.6.0/24');
    } finally {
      await a.close();
      await b.close();
    }
  });
});
