/**
 * Internal: `SessionStore.patch` as one SQL statement, for the PostgreSQL and SQLite stores. Both
 * statements write only a live row that is not a rotation pointer and whose every expected key
 * holds its expected value, and return the row as written (no row: nothing written).
 */
import type { PatchOptions } from './types.js';
import type { PatchText } from '../lib/patch.js';

/** jsonb refuses the escapes of NUL and lone surrogates (see toJsonb in postgres-codec.ts). */
const JSONB_REFUSES = /\\u(?:0000|d[89a-f][0-9a-f]{2})/i;

/** Expected values a PostgreSQL patch statement checks at most (more: the store declines). */
export const PG_MAX_EXPECT = 64;

/**
 * PostgreSQL: `(data || set) - del` on the jsonb object. $1 set (jsonb object), $2 del (text[]),
 * $3 now, $4 expiresAt, $5 id, $6 keys expected absent (text[]), then `present` pairs (key, jsonb
 * value). Each expectation is a plain condition on the row, not a subquery: under concurrent
 * writers PostgreSQL re-checks a blocked UPDATE's conditions on the row version it then sees,
 * and a correlated subquery there let stale expectations pass (the conformance case caught it).
 * A row whose data is held as a jsonb string (data jsonb could not hold) is left to update.
 */
export function pgPatchSql(table: string, columns: string, present: number): string {
  let want = '';
  for (let i = 0; i < present; i++) want += ` AND data -> $${7 + 2 * i}::text IS NOT DISTINCT FROM $${8 + 2 * i}::jsonb`;
  return `UPDATE ${table} SET data = (data || $1::jsonb) - $2::text[], version = version + 1, last_seen_at = $3,
      expires_at = LEAST($4::bigint, absolute_expires_at)
    WHERE id = $5 AND expires_at > $3 AND rotated_to IS NULL AND jsonb_typeof(data) = 'object'
      AND NOT (data ?| $6::text[])${want}
    RETURNING ${columns}`;
}

/**
 * Parameters of pgPatchSql and its count of present expectations, or null when jsonb cannot
 * carry the patch (the caller declines).
 */
export function pgPatchParams(id: string, p: PatchText, opts: PatchOptions): { present: number; params: unknown[] } | null {
  const set = `{${p.set.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`;
  const absent = p.expect.filter(([, v]) => v === undefined).map(([k]) => k);
  const present = p.expect.filter((e): e is [string, string] => e[1] !== undefined);
  const texts = [set, ...present.map(([, v]) => v)];
  const keys = [...p.del, ...absent, ...present.map(([k]) => k)];
  if (present.length > PG_MAX_EXPECT || texts.some((t) => JSONB_REFUSES.test(t)) || keys.some((k) => k.includes('\0'))) return null;
  const params: unknown[] = [set, p.del, opts.now, opts.expiresAt, id, absent];
  for (const [k, v] of present) params.push(k, v);
  return { present: present.length, params };
}

/** A key SQLite's JSON path can name exactly: one JSON.stringify writes without escapes or quotes. */
function plainKey(k: string): boolean {
  return JSON.stringify(k) === `"${k}"`;
}

/**
 * SQLite: `json_remove(json_set(data, …), …)` with one path per key (existing keys keep their
 * place, values are copied as JSON text). The statement's shape depends on the key counts, so the
 * store caches it by `shape`. Null when a key needs escaping in a JSON path, or is an array index
 * that json_set would append out of JavaScript's order (PatchText.indexKey): the caller declines.
 */
export function sqlitePatch(table: string, columns: string, id: string, p: PatchText, opts: PatchOptions): { shape: string; sql: string; params: unknown[] } | null {
  if (p.indexKey || ![...p.set.map(([k]) => k), ...p.del, ...p.expect.map(([k]) => k)].every(plainKey)) return null;
  const path = (k: string): string => `$."${k}"`;
  let expr = 'data';
  const params: unknown[] = [];
  if (p.set.length > 0) {
    expr = `json_set(${expr}${', ?, json(?)'.repeat(p.set.length)})`;
    for (const [k, v] of p.set) params.push(path(k), v);
  }
  if (p.del.length > 0) {
    expr = `json_remove(${expr}${', ?'.repeat(p.del.length)})`;
    for (const k of p.del) params.push(path(k));
  }
  params.push(opts.now, opts.expiresAt, id, opts.now);
  // `->` gives a value's JSON text (NULL when absent), compared with what JSON.stringify wrote.
  for (const [k, v] of p.expect) params.push(path(k), v ?? null);
  const sql = `UPDATE ${table} SET data = ${expr}, version = version + 1, last_seen_at = ?, expires_at = MIN(?, absolute_expires_at)
    WHERE id = ? AND expires_at > ? AND rotated_to IS NULL AND json_type(data) = 'object'${' AND (data -> ?) IS ?'.repeat(p.expect.length)}
    RETURNING ${columns}`;
  return { shape: `${p.set.length},${p.del.length},${p.expect.length}`, sql, params };
}
