/**
 * Core rows: bare node:http vs node:http + sessionward on the MemoryStore, for an authenticated
 * read (valid session cookie, nothing changes) and an authenticated write (atomic update), plus
 * 200 concurrent increments of one session.
 */
import { MemoryStore } from '../../src/index.js';
import { measureHttp, listen, close, sideBySide } from '../lib/http.js';
import { bareServer, sessionServer, loginCookie, lostUpdates } from '../lib/session-server.js';
import type { Scenario } from '../lib/types.js';

const scenario: Scenario = async (ctx) => {
  const bare = bareServer();
  const sw = sessionServer(new MemoryStore(), ctx.log);
  const bareUrl = await listen(bare);
  const swUrl = await listen(sw);
  try {
    const cookie = await loginCookie(swUrl);
    const load = { duration: ctx.duration, connections: ctx.connections };
    const read = await sideBySide({
      bare: () => measureHttp(`${bareUrl}/read`, load),
      sessionward: () => measureHttp(`${swUrl}/read`, { ...load, headers: { cookie } }),
    });
    ctx.report({ scenario: 'http-read-memory', subject: 'bare', opsPerSec: read.bare });
    ctx.report({ scenario: 'http-read-memory', subject: 'sessionward', opsPerSec: read.sessionward, ratio: round(read.sessionward! / read.bare!) });

    // Writes: one session per connection, as many users would be (not all contending for one).
    const cookies = await Promise.all(Array.from({ length: ctx.connections }, () => loginCookie(swUrl)));
    const write = await sideBySide({
      bare: () => measureHttp(`${bareUrl}/write`, load),
      sessionward: () => measureHttp(`${swUrl}/write`, { ...load, cookiePerConnection: cookies }),
    });
    ctx.report({ scenario: 'http-write-memory', subject: 'bare', opsPerSec: write.bare });
    ctx.report({ scenario: 'http-write-memory', subject: 'sessionward', opsPerSec: write.sessionward, ratio: round(write.sessionward! / write.bare!) });
  } finally {
    await close(bare);
    await close(sw);
  }
  const lost = await lostUpdates(new MemoryStore());
  ctx.report({ scenario: 'lost-updates-memory', subject: 'sessionward', sent: lost.sent, kept: lost.kept });
};

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

export default scenario;
