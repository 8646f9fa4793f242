/**
 * The smallest application for DBSC protocol tests, in-process on the core: the guard's endpoints
 * first, then three routes. Adapter tests serve the same routes over HTTP.
 *   POST /login  -> log in as 'alice'
 *   GET  /me     -> { user, binding }
 *   POST /logout -> destroy
 */
import type { SessionManager } from '../../src/index.js';
import type { Send, Wire } from './dbsc-browser.js';

export function coreApp(manager: SessionManager<any>): Send {
  return async (method, path, headers) => {
    const h = (n: string) => headers[n] ?? null;
    const ep = await manager.endpoint({ method, path, header: h, userAgent: 'test', ip: '127.0.0.1' });
    if (ep) return ep;
    const s = await manager.load({ cookie: h('cookie'), userAgent: 'test', ip: '127.0.0.1' });
    let body: unknown = { user: s.userId, binding: s.binding };
    if (method === 'POST' && path === '/login') await s.login('alice');
    else if (method === 'POST' && path === '/logout') await s.destroy();
    if (path !== '/me') body = { ok: true };
    const { headers: out } = await manager.commit(s);
    return { status: 200, headers: out, body: JSON.stringify(body) } satisfies Wire;
  };
}
