/**
 * Core rows: bare node:http vs node:http + sessionward on the MemoryStore, for an authenticated
 * read (valid session cookie, nothing changes), an authenticated write (atomic update, one session
 * per connection) and a contended write (32 connections on one session), plus 200 concurrent
 * increments of one session.
 */
import { MemoryStore } from '../../src/index.js';
import { contendedKeyRows, contendedRows, httpRows, lostUpdates } from '../lib/session-server.js';
import type { Scenario } from '../lib/types.js';

const scenario: Scenario = async (ctx) => {
  await httpRows(ctx, new MemoryStore(), 'memory');
  await contendedRows(ctx, new MemoryStore(), 'memory');
  await contendedKeyRows(ctx, () => new MemoryStore(), 'memory');
  if (!ctx.wants('lost-updates-memory')) return;
  const lost = await lostUpdates(new MemoryStore());
  ctx.report({ scenario: 'lost-updates-memory', subject: 'sessionward', sent: lost.sent, kept: lost.kept });
};

export default scenario;
