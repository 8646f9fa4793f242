import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SessionManager, MemoryStore, SessionConflictError } from '../src/index.js';
import { nodeSessions, sendError } from '../src/adapters/node.js';
import { SECRET, setup, nextCookie } from './helpers/core.js';

describe('no lost updates over real HTTP', () => {
  let server: http.Server;
  let base: string;
  const manager = new SessionManager<{ n?: number; started?: boolean }>({ store: new MemoryStore(), secrets: [SECRET] });
  const sessions = nodeSessions(manager);

  beforeAll(async () => {
    server = http.createServer(async (req, res) => {
      try {
        const session = await sessions.load(req);
        if (req.url === '/start') session.set('started', true);
        if (req.url === '/inc') await session.update((d) => { d.n = (d.n ?? 0) + 1; });
        if (req.url === '/logout') await session.destroy();
        await sessions.commit(session, res);
        res.end(JSON.stringify({ n: session.get('n') ?? null, isNew: session.isNew }));
      } catch (e) {
        if (!sendError(res, e)) { res.statusCode = 500; res.end(); }
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }));

  it('200 concurrent increments of one session end at 200', async () => {
    const start = await fetch(`${base}/start`);
    const cookie = start.headers.getSetCookie()[0]!.split(';')[0]!;
    const results = await Promise.all(Array.from({ length: 200 }, () => fetch(`${base}/inc`, { headers: { cookie } })));
    expect(results.every((r) => r.status === 200)).toBe(true);
    const final = await (await fetch(`${base}/read`, { headers: { cookie } })).json();
    expect(final.n).toBe(200);
  });

  it('requests in flight during logout do not resurrect the destroyed session', async () => {
    const start = await fetch(`${base}/start`);
    const cookie = start.headers.getSetCookie()[0]!.split(';')[0]!;
    const racing = Array.from({ length: 50 }, (_, i) => (i === 10 ? fetch(`${base}/logout`, { headers: { cookie } }) : fetch(`${base}/inc`, { headers: { cookie } })));
    const statuses = (await Promise.all(racing)).map((r) => r.status);
    expect(statuses.every((s) => s === 200 || s === 401)).toBe(true);
    const after = await (await fetch(`${base}/read`, { headers: { cookie } })).json();
    expect(after.isNew).toBe(true);
    expect(after.n).toBeNull();
  });
});

describe('change detection and merge', () => {
  it('concurrent requests changing different keys both keep their change', async () => {
    const { manager } = setup();
    const s0 = await manager.load({});
    s0.set('a', 0);
    const cookie = nextCookie((await manager.commit(s0)).headers);
    const r1 = await manager.load({ cookie });
    const r2 = await manager.load({ cookie });
    r1.set('a', 1);
    r2.set('b', 2);
    await manager.commit(r1);
    await manager.commit(r2);
    const final = await manager.load({ cookie });
    expect(final.data).toEqual({ a: 1, b: 2 });
  });

  it('deep mutation of data is detected', async () => {
    const { manager } = setup();
    const s0 = await manager.load({});
    s0.set('cart', { items: [] as string[] });
    const cookie = nextCookie((await manager.commit(s0)).headers);
    const s1 = await manager.load({ cookie });
    (s1.data.cart as { items: string[] }).items.push('sku');
    await manager.commit(s1);
    expect((await manager.load({ cookie })).data.cart).toEqual({ items: ['sku'] });
  });

  it('a true conflict on the same key is a typed 409, never a silent loss', async () => {
    const { manager, events } = setup();
    const s0 = await manager.load({});
    s0.set('n', 0);
    const cookie = nextCookie((await manager.commit(s0)).headers);
    const r1 = await manager.load({ cookie });
    const r2 = await manager.load({ cookie });
    r1.set('n', (r1.get('n') as number) + 1);
    r2.set('n', (r2.get('n') as number) + 1);
    await manager.commit(r1);
    const err = await manager.commit(r2).catch((e) => e);
    expect(err).toBeInstanceOf(SessionConflictError);
    expect(err.code).toBe('ERR_SESSION_CONFLICT');
    expect(err.status).toBe(409);
    expect(events.some((e) => e.type === 'session.conflict')).toBe(true);
    expect((await manager.load({ cookie })).get('n')).toBe(1);
  });

  it("onConflict: 'last-write-wins' keeps the later request's value", async () => {
    const { manager } = setup({ onConflict: 'last-write-wins' });
    const s0 = await manager.load({});
    s0.set('n', 0);
    const cookie = nextCookie((await manager.commit(s0)).headers);
    const r1 = await manager.load({ cookie });
    const r2 = await manager.load({ cookie });
    r1.set('n', 1);
    r2.set('n', 2);
    await manager.commit(r1);
    await manager.commit(r2);
    expect((await manager.load({ cookie })).get('n')).toBe(2);
  });

  it('update() re-applies this request\'s unsaved changes on top of the new state', async () => {
    const { manager } = setup();
    const s0 = await manager.load({});
    s0.set('n', 0);
    const cookie = nextCookie((await manager.commit(s0)).headers);
    const s = await manager.load({ cookie });
    s.set('note', 'pending');
    await s.update((d) => { d.n = (d.n as number) + 5; });
    expect(s.data).toEqual({ n: 5, note: 'pending' });
    await manager.commit(s);
    expect((await manager.load({ cookie })).data).toEqual({ n: 5, note: 'pending' });
  });
});
