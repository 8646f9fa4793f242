// The load generator: autocannon in a child process of its own, so it shares neither the event
// loop nor the CPU accounting of the servers under test (it still shares the machine's cores, as
// any loopback benchmark does). One job at a time over IPC; exits when the parent goes away.
import process from 'node:process';
import autocannon from 'autocannon';

process.on('disconnect', () => process.exit(0));
process.on('message', async (o) => {
  let conn = 0;
  let req = 0;
  const withCookie = (cookie) => ({ ...o.headers, cookie });
  const instance = autocannon({
    url: o.url,
    method: o.method,
    headers: o.headers,
    body: o.body,
    duration: o.duration,
    connections: o.connections,
    pipelining: 1,
    // One session per connection: many users, each on their own session.
    ...(o.cookiePerConnection?.length
      ? { setupClient: (client) => client.setHeaders(withCookie(o.cookiePerConnection[conn++ % o.cookiePerConnection.length])) }
      : {}),
    // A pool of sessions in rotation, one per request.
    ...(o.cookiePerRequest?.length
      ? { requests: [{ method: o.method, setupRequest: (r) => ({ ...r, headers: withCookie(o.cookiePerRequest[req++ % o.cookiePerRequest.length]) }) }] }
      : {}),
  });
  // The parent starts its CPU clocks here, not at spawn time.
  process.send({ type: 'start' });
  const result = await instance;
  process.send({
    type: 'done',
    // Completed 2xx responses over the measured seconds.
    rps: result['2xx'] / result.duration,
    ok: result['2xx'],
    non2xx: result.non2xx,
    errors: result.errors,
    statuses: Object.fromEntries(Object.entries(result.statusCodeStats ?? {}).map(([k, v]) => [k, v.count])),
  });
});
