/**
 * @internal A request's per-key change set: computed from what the request loaded and what its
 * data is now (`diff`), applied over whatever the store holds by then (`mergeChanges`). Pure: the
 * same change set is what a store-side per-key merge (one script, one statement) would apply.
 */
import { SessionConflictError } from '../errors.js';
import { put } from './storable.js';

/** Marks a key the request deleted. */
export const DELETED: unique symbol = Symbol('deleted');

/** Key -> new value, or DELETED. */
export type Changes = ReadonlyMap<string, unknown>;

/** No changes: shared, never mutated. */
export const NO_CHANGES: Changes = new Map();

function clone<T>(v: T): T {
  return v === undefined ? v : (JSON.parse(JSON.stringify(v)) as T);
}

/**
 * Keys whose value differs between `baseJson` (the data as last synchronised with the store; null
 * means "never looked at", so unchanged) and `data`, with their new value or DELETED. The common,
 * read-only case costs one stringify.
 */
export function diff(baseJson: string | null, data: Record<string, unknown>): Changes {
  if (baseJson === null) return NO_CHANGES;
  const json = JSON.stringify(data);
  if (json === baseJson) return NO_CHANGES;
  const out = new Map<string, unknown>();
  const base = JSON.parse(baseJson) as Record<string, unknown>;
  for (const k of Object.keys(data)) {
    if (JSON.stringify(data[k]) !== JSON.stringify(base[k])) out.set(k, clone(data[k]));
  }
  for (const k of Object.keys(base)) if (!(k in data)) out.set(k, DELETED);
  return out;
}

/**
 * Apply `changes` over `latest` (a new object). With `onConflict: 'error'`, any concurrent change
 * (`latest` differs from `base`) to a key this request also changed throws SessionConflictError —
 * even to an equal value: two "n = n + 1" writers both write the same number and one increment
 * would vanish.
 */
export function mergeChanges(
  latest: Record<string, unknown>,
  base: Record<string, unknown>,
  changes: Changes,
  onConflict: 'error' | 'last-write-wins',
): Record<string, unknown> {
  const out = { ...latest };
  for (const [k, v] of changes) {
    if (onConflict === 'error' && JSON.stringify(latest[k]) !== JSON.stringify(base[k])) {
      throw new SessionConflictError(`session key ${JSON.stringify(k)} changed concurrently`);
    }
    if (v === DELETED) delete out[k];
    else put(out, k, v);
  }
  return out;
}

/** The data stored as `json`, with this request's own unsaved changes re-applied on top (a new object). */
export function reapply(json: string, changes: Changes): Record<string, unknown> {
  const view = JSON.parse(json) as Record<string, unknown>;
  for (const [k, v] of changes) {
    if (v === DELETED) delete view[k];
    else put(view, k, v);
  }
  return view;
}
