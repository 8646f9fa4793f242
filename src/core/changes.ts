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
  if (baseJson === null || JSON.stringify(data) === baseJson) return NO_CHANGES;
  return diffKeys(JSON.parse(baseJson) as Record<string, unknown>, data);
}

/**
 * Whether `a` and `b` serialise to the same JSON text, without serialising when both are plain JSON
 * values (strings, finite numbers, booleans, null, arrays and plain objects of those, keys in the
 * same order). Anything else — undefined, NaN, a Date, a class instance, an object with toJSON —
 * is decided by JSON.stringify itself, so the answer is always exactly the text comparison's.
 */
export function sameJson(a: unknown, b: unknown): boolean {
  const plain = samePlain(a, b);
  return plain === undefined ? JSON.stringify(a) === JSON.stringify(b) : plain;
}

/** true / false when both are plain JSON values, else undefined ("ask JSON.stringify"). */
function samePlain(a: unknown, b: unknown): boolean | undefined {
  if (typeof a === 'string' || typeof a === 'boolean') return typeof b === typeof a ? a === b : scalarOr(b);
  if (typeof a === 'number') return Number.isFinite(a) ? (typeof b === 'number' && Number.isFinite(b) ? a === b : scalarOr(b)) : undefined;
  if (a === null) return b === null ? true : scalarOr(b);
  if (typeof a !== 'object') return undefined;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || !isPlainArray(a) || !isPlainArray(b)) return undefined;
    if (a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) {
      const r = samePlain(a[i], b[i]);
      if (r !== true) return r;
    }
    return true;
  }
  if (typeof b !== 'object' || b === null || !isPlainObject(a) || !isPlainObject(b)) return undefined;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return undefined;
  for (let i = 0; i < ka.length; i++) {
    // A different key order is different text; an undefined value is left out of it: ask stringify.
    if (ka[i] !== kb[i]) return undefined;
    const r = samePlain((a as Record<string, unknown>)[ka[i]!], (b as Record<string, unknown>)[kb[i]!]);
    if (r !== true) return r;
  }
  return true;
}

/** `b` against a plain scalar that differs from it in type: different text unless `b` is not plain. */
function scalarOr(b: unknown): boolean | undefined {
  return b === null || typeof b === 'string' || typeof b === 'boolean' || (typeof b === 'number' && Number.isFinite(b)) ? false : undefined;
}

function isPlainArray(a: unknown[]): boolean {
  return Object.getPrototypeOf(a) === Array.prototype && typeof (a as { toJSON?: unknown }).toJSON !== 'function';
}

function isPlainObject(o: object): boolean {
  const p = Object.getPrototypeOf(o) as object | null;
  return (p === Object.prototype || p === null) && typeof (o as { toJSON?: unknown }).toJSON !== 'function';
}

/** The per-key part of `diff`, against the base data as an object (read, never changed). */
export function diffKeys(base: Record<string, unknown>, data: Record<string, unknown>): Changes {
  const out = new Map<string, unknown>();
  for (const k of Object.keys(data)) {
    if (!sameJson(data[k], base[k])) out.set(k, clone(data[k]));
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
    if (onConflict === 'error' && !sameJson(latest[k], base[k])) {
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
