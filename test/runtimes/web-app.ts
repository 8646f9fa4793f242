/**
 * A Web `fetch` app on the Web entry points only (`sessionward/web`, `sessionward/sealed/web`),
 * bundled by test/runtimes-web.test.ts and run on Bun, Deno, workerd and the edge runtime.
 * `selfTest()` drives it from inside the runtime: two requests per session kind, the second
 * carrying the first one's cookies back.
 */
import { SessionManager, MemoryStore, withSession } from '../../src/index-web.js';
import { getSealedSessionWeb } from '../../src/stateless/index-sealed-web.js';

const SECRET = 'runtime-smoke-secret-0123456789abcdefghijklmnopq';
const manager = new SessionManager({ store: new MemoryStore(), secrets: [SECRET] });
const sealed = { keys: [{ id: 'k1', key: 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8' }] };

const server = withSession(manager, async (_request, session) => {
  session.set('views', ((session.get('views') as number | undefined) ?? 0) + 1);
  return Response.json({ views: session.get('views') });
});

export async function handle(request: Request): Promise<Response> {
  if (new URL(request.url).pathname === '/sealed') {
    const s = await getSealedSessionWeb<{ n?: number }>(request, sealed);
    s.n = (s.n ?? 0) + 1;
    await s.save();
    return s.applyTo(Response.json({ views: s.n }));
  }
  return server(request);
}

export interface RoundTrip {
  status: number[];
  views: unknown[];
  cookie: string;
}

export async function roundTrip(fetcher: (r: Request) => Promise<Response>, url: string): Promise<RoundTrip> {
  const first = await fetcher(new Request(url));
  const setCookie = first.headers.getSetCookie();
  const cookie = setCookie.map((c) => c.split(';')[0]).join('; ');
  const second = await fetcher(new Request(url, { headers: { cookie } }));
  const views = [((await first.json()) as { views: unknown }).views, ((await second.json()) as { views: unknown }).views];
  return { status: [first.status, second.status], views, cookie: setCookie[0] ?? '' };
}

/** Both session kinds, run where the app runs. */
export async function selfTest(): Promise<Record<string, RoundTrip>> {
  return {
    store: await roundTrip(handle, 'https://app.example/'),
    sealed: await roundTrip(handle, 'https://app.example/sealed'),
  };
}

/** The module-worker shape (workerd); `/__selftest` answers with `selfTest()`. */
export default {
  async fetch(request: Request): Promise<Response> {
    if (new URL(request.url).pathname === '/__selftest') return Response.json(await selfTest());
    return handle(request);
  },
};
