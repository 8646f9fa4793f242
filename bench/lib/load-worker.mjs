// Runs autocannon in its own thread, so the load generator does not share an event loop with the
// servers under test (it still shares the machine's cores, as any loopback benchmark does).
import { parentPort, workerData } from 'node:worker_threads';
import autocannon from 'autocannon';

const o = workerData;
let i = 0;
const result = await autocannon({
  url: o.url,
  method: o.method,
  headers: o.headers,
  body: o.body,
  duration: o.duration,
  connections: o.connections,
  pipelining: 1,
  ...(o.cookiePerConnection?.length
    ? { setupClient: (client) => client.setHeaders({ ...o.headers, cookie: o.cookiePerConnection[i++ % o.cookiePerConnection.length] }) }
    : {}),
});
// Completed 2xx responses over the measured seconds (in a worker autocannon does not fill `requests.average`).
parentPort.postMessage({ rps: result["2xx"] / result.duration, non2xx: result.non2xx, errors: result.errors });
