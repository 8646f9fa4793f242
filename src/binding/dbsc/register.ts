/**
 * @internal DBSC registration: the browser answers the `Secure-Session-Registration` offer with a
 * proof signed by its new key. Binding is a compare-and-set on the session record (a record is
 * bound once: the challenge cannot be used twice, also not by two concurrent requests on
 * different servers), followed by a renewal, so a token seen before the binding reaches the
 * session only for the rotation grace window.
 */
import type { EndpointRequest, EndpointResponse } from '../../core/guard.js';
import { BINDING_KEY, bindingOf, type DeviceBinding } from '../../core/binding.js';
import { isSessionwardError } from '../../errors.js';
import { checkChallenge } from './challenge.js';
import { verifyDbscProof } from './proof.js';
import { bound, reply, type DbscContext } from './context.js';

export async function register(ctx: DbscContext, req: EndpointRequest): Promise<EndpointResponse> {
  const m = ctx.manager;
  const session = await m.load(ctx.requestInfo(req));
  if (!session.isAuthenticated || session.superseded || !session.record) return reply(401);
  const proof = await verifyDbscProof(req.header('secure-session-response'), ctx.o.algorithms, null);
  if (!proof.ok) return reply(400);
  const now = m.options.clock();
  if (!(await checkChallenge(ctx.crypto, ctx.keys, 'register', session.record.id, proof.jti, now, ctx.o.challengeLifetime))) return reply(400);

  const binding: DeviceBinding = { kind: 'dbsc', alg: proof.alg, jkt: proof.jkt, jwk: proof.jwk, boundAt: now, sid: ctx.crypto.randomToken(16), last: proof.jti };
  let claimed = false;
  try {
    await session.update((d) => {
      // Re-run on fresher data after a lost race: decide from what the store holds now.
      claimed = bindingOf(d) === null;
      if (claimed) d[BINDING_KEY] = binding;
    });
    if (!claimed) return reply(400);
    await session.renew();
    await m.emit('session.bound', session, { reason: proof.alg });
    const { headers } = await m.commit(session);
    return bound(ctx, binding.sid, [...headers, ['set-cookie', await ctx.boundCookie(binding.sid, now)]]);
  } catch (err) {
    // Ended while registering (logout, revoke): nothing is bound. A store outage is retried later.
    if (isSessionwardError(err) && err.status >= 500) return reply(503, [['retry-after', '1']]);
    if (isSessionwardError(err)) return reply(401);
    throw err;
  }
}
