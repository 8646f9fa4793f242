/**
 * Fastify plugin (`sessionward/fastify`): `onRequest` loads `request.session` (a core Session),
 * `onSend` commits it and adds its headers. Registered with fastify-plugin semantics
 * (`Symbol.for('skip-override')`), so the hooks apply to routes outside the registering scope too.
 * Typed errors become their status and code (503 for a down store), never a stack.
 *
 * @example
 * import Fastify from 'fastify'
 * import { fastifySessionward, sessionOf } from 'sessionward/fastify'
 * const app = Fastify()
 * await app.register(fastifySessionward, { manager, csrf: { origin: 'https://app.example.com' } })
 * app.get('/', async (request) => {
 *   const session = sessionOf(request)
 *   session.set('views', (session.get('views') ?? 0) + 1)
 *   return { views: session.get('views') }
 * })
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { SessionManager } from '../core/manager.js';
import type { Session } from '../core/session.js';
import { errorReply, type ErrorReply } from '../lib/error-reply.js';
import { CsrfError } from '../csrf/errors.js';
import { answerEndpoint } from './node.js';
import { checkCsrf, compileGuard, emitCsrfEvent, getCsrfToken, mergeVary, tokenSources, type CsrfGuardOptions } from '../csrf/index.js';

export interface FastifySessionwardOptions<D extends Record<string, unknown> = Record<string, any>> {
  manager: SessionManager<D>;
  /** CSRF checks on unsafe methods (after body parsing, so a form's `_csrf` field is seen). */
  csrf?: CsrfGuardOptions;
  /** Client IP; default `request.ip` (honours Fastify's `trustProxy`). */
  getIp?: (request: FastifyRequest) => string | undefined;
}

/** Prepare `reply` for a typed error's reply and return the body to send. */
function fail(reply: FastifyReply, r: ErrorReply): string {
  reply.code(r.status);
  // Fastify appends repeated set-cookie headers itself.
  for (const [name, value] of r.headers) reply.header(name, value);
  return r.body;
}

async function plugin(fastify: FastifyInstance, opts: FastifySessionwardOptions<any>): Promise<void> {
  const manager = opts.manager;
  const csrf = opts.csrf ? compileGuard(opts.csrf) : null;
  const src = csrf ? tokenSources(csrf) : null;
  const getIp = opts.getIp ?? ((r: FastifyRequest) => r.ip);
  // Untyped on purpose: another session plugin (e.g. @fastify/session) may declare `session` too.
  const decorate = fastify.decorateRequest.bind(fastify) as (name: string, value: null) => void;
  decorate('session', null);
  decorate('csrfToken', null);

  fastify.addHook('onRequest', async (request, reply) => {
    const r = request as unknown as { session: Session<any> | null; csrfToken: (() => string) | null };
    try {
      const ua = request.headers['user-agent'];
      const answered = await answerEndpoint(manager, request.raw, reply.raw, () => getIp(request));
      if (answered) return reply.hijack();
      r.session = await manager.load({ cookie: request.headers.cookie, userAgent: typeof ua === 'string' ? ua : undefined, ip: getIp(request) });
    } catch (err) {
      const r = errorReply(err);
      if (!r) throw err;
      return reply.send(fail(reply, r));
    }
    r.csrfToken = () => getCsrfToken(r.session!);
    if (csrf) reply.header('vary', mergeVary(reply.getHeader('vary') as string | undefined));
  });

  if (csrf) {
    fastify.addHook('preHandler', async (request, reply) => {
      const session = (request as any).session as Session<any> | null;
      const body = request.body && typeof request.body === 'object' && src ? (request.body as Record<string, unknown>)[src.field] : undefined;
      const reason = checkCsrf({ method: request.method, headers: request.headers }, session, csrf, body);
      if (!reason) return;
      await emitCsrfEvent(csrf, reason, request.method, { ip: request.ip, sid: async () => (session?.id ? manager.sid(session.id) : undefined) });
      return reply.send(fail(reply, errorReply(new CsrfError())!));
    });
  }

  fastify.addHook('onSend', async (request, reply, payload) => {
    const session = (request as any).session as Session<any> | null;
    if (!session) return payload;
    try {
      const { headers } = await manager.commit(session);
      for (const [name, value] of headers) reply.header(name, value);
      return payload;
    } catch (err) {
      const r = errorReply(err);
      if (!r) throw err;
      reply.removeHeader('content-length');
      return fail(reply, r);
    }
  });
}

/** The Fastify plugin. Register once; `request.session` is then set on every request. */
export const fastifySessionward = Object.assign(plugin, {
  [Symbol.for('skip-override')]: true,
  [Symbol.for('fastify.display-name')]: 'sessionward',
});

/**
 * The request's session, typed (the plugin does not augment Fastify's types, so it never clashes
 * with another session plugin's declarations). Pass the manager to type it by the manager's data
 * (`SessionManager<{ views?: number }>` gives `get('views'): number | undefined`), or name the type.
 *
 * @example
 * const session = sessionOf(request, manager)
 * const same = sessionOf<{ views?: number }>(request)
 */
export function sessionOf<D extends Record<string, unknown> = Record<string, any>>(request: FastifyRequest, _manager?: SessionManager<D>): Session<D> {
  const s = (request as any).session as Session<D> | null | undefined;
  if (!s) throw new Error('sessionward: the fastify plugin is not registered for this route');
  return s;
}
