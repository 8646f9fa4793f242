/**
 * @internal DBSC refresh. Without a proof: 403 and a challenge bound to this record. With one: the
 * proof must be signed by the registered key (a wrong key is what a stolen cookie without the
 * device looks like: `session.binding_violation`), its challenge fresh and claimed once with a
 * compare-and-set; then the session is renewed through the ordinary rotation and a new bound
 * cookie is issued. A session that is gone, or was never bound, tells the browser to stop.
 */
import type { EndpointRequest, EndpointResponse } from '../../core/guard.js';
import { BINDING_KEY, bindingOf } from '../../core/binding.js';
import { isSessionwardError, SessionDestroyedError } from '../../errors.js';
import { checkChallenge, mintChallenge } from './challenge.js';
import { challengeHeader, parseSessionId } from './headers.js';
import { verifyDbscProof } from './proof.js';
import { bound, ended, reply, type DbscContext } from './context.js';

export async function refresh(ctx: DbscContext, req: EndpointRequest): Promise<EndpointResponse> {
  const m = ctx.manager;
  const asked = parseSessionId(req.header('sec-secure-session-id'));
  // The bound cookie is missing or about to expire: that is why the browser is here.
  const session = await m.load(ctx.requestInfo(req), { unguarded: true });
  const b = bindingOf(session.record?.data);
  if (!session.record || !b || (asked !== null && asked !== b.sid)) return ended(asked);
  // An old token inside the grace window: the browser has the new one; let it retry with that.
  if (session.superseded) return reply(503, [['retry-after', '1']]);
  const id = session.record.id;
  const now = m.options.clock();
  const challenge = async (): Promise<EndpointResponse> =>
    reply(403, [['secure-session-challenge', challengeHeader(await mintChallenge(ctx.crypto, ctx.keys[0]!, 'refresh', id, now), b.sid)]]);

  const raw = req.header('secure-session-response');
  if (raw === null) return challenge();
  const proof = await verifyDbscProof(raw, ctx.o.algorithms, { alg: b.alg, jwk: b.jwk });
  if (!proof.ok) {
    await m.emit('session.binding_violation', session, { reason: `refresh_proof_${proof.reason}` });
    return reply(401);
  }
  // Stale or foreign challenge: a fresh one (the browser answers a challenge once more).
  if (!(await checkChallenge(ctx.crypto, ctx.keys, 'refresh', id, proof.jti, now, ctx.o.challengeLifetime))) return challenge();
  try {
    let claimed = false;
    await session.update((d) => {
      const cur = bindingOf(d);
      // Unbound meanwhile, or this challenge already claimed (also by a concurrent request).
      claimed = cur !== null && cur.jkt === b.jkt && cur.last !== proof.jti;
      if (claimed) d[BINDING_KEY] = { ...cur, last: proof.jti };
    });
    if (!claimed) return challenge();
    await session.renew();
    const { headers } = await m.commit(session);
    return bound(ctx, b.sid, [...headers, ['set-cookie', await ctx.boundCookie(b.sid, m.options.clock())]]);
  } catch (err) {
    // Revoked or logged out while refreshing: the binding ended with the session.
    if (err instanceof SessionDestroyedError) return ended(b.sid, session.destroyed ? (await m.commit(session)).headers : []);
    // Store outage, a concurrent rotation: transient, so the browser only skips this attempt.
    if (isSessionwardError(err)) return reply(503, [['retry-after', '1']]);
    throw err;
  }
}
