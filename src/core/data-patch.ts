/**
 * @internal A commit's data changes as one `store.patch` (issue 22): the request's per-key
 * changes applied inside the store in one step — no read, no retry — so one user's parallel
 * requests writing different keys never conflict. Takes records in, gives a record out.
 */
import type { SessionStore } from '../stores/types.js';
import { withData, type SessionRecord } from '../lib/record.js';
import { DELETED, type Changes } from './changes.js';
import { assertStorableJson, put } from './storable.js';

/**
 * The record as the store wrote it, or null when the store has no patch or wrote nothing (gone,
 * expired, rotated, a changed key under onConflict 'error', a change it cannot express): the
 * caller then takes the compare-and-set path, which handles each of those cases.
 */
export async function patchChanges(
  store: SessionStore,
  o: { onConflict: 'error' | 'last-write-wins'; idleTimeout: number },
  record: SessionRecord,
  base: Record<string, unknown>,
  changes: Changes,
  now: number,
): Promise<SessionRecord | null> {
  if (!store.patch) return null;
  assertStorableJson(JSON.stringify(Array.from(changes)));
  const set: Record<string, unknown> = {};
  const del: string[] = [];
  for (const [k, v] of changes) {
    if (v === DELETED) del.push(k);
    else put(set, k, v);
  }
  let expect: Record<string, unknown> | undefined;
  if (o.onConflict === 'error') {
    // Each changed key must still hold what this request loaded (a same-key race is a 409).
    expect = {};
    for (const k of changes.keys()) put(expect, k, Object.prototype.hasOwnProperty.call(base, k) ? base[k] : undefined);
  }
  return store.patch(record.id, { set, del }, { now, expiresAt: now + o.idleTimeout, expect, base: withData(record, base) });
}
