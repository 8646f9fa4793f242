/**
 * Core rows: bare node:http vs node:http + sessionward on the MemoryStore, for an authenticated
 * read (valid session cookie, nothing changes) and an authenticated write (atomic update), plus
 * 200 concurrent increments of one session.
 */
import { MemoryStore } from '../../src/index.js';
import { httpRows, lostUpdates } from '../lib/session-server.js';
import type { Scenario } from '../lib/types.js';

const scenario: Scenario = async (ctx) => {
  await httpRows(ctx, new MemoryStore(), 'memory');
  const lost = await lostUpdates(new MemoryStore());
  ctx.report({ scenario: 'lost-updates-memory', subject: 'sessionward', sent: lost.sent, kept: lost.kept });
};

export default scenario;
