/** @internal `SessionStore.patch` helpers shared by the stores (one reading of the contract). */
import { InvalidInputError } from '../errors.js';
import type { DataPatch, PatchOptions } from '../stores/types.js';

/** Own property, `__proto__` included (a plain assignment would set the prototype). */
function put(o: Record<string, unknown>, k: string, v: unknown): void {
  if (k === '__proto__') Object.defineProperty(o, k, { value: v, writable: true, enumerable: true, configurable: true });
  else o[k] = v;
}

/** A patch as JSON text per key, the form every store compares and writes. */
export interface PatchText {
  /** [key, JSON text of the value]; a value JSON cannot hold (undefined, a function) is a removal. */
  set: Array<[string, string]>;
  del: string[];
  /** [key, JSON text expected, or undefined for "absent"]. */
  expect: Array<[string, string | undefined]>;
  /**
   * A key set is an array index ("7"). A store that merges JSON text appends a new key at the end,
   * where JavaScript objects list index keys first: the stored text would then differ from what
   * JSON.stringify writes for the same data, and every later read would look changed
   * (lib/data-json.ts). Such stores decline these patches; the compare-and-set path writes them.
   */
  indexKey: boolean;
}

/** A key JavaScript orders before all others in an object: a canonical array index (0 … 2^32 - 2). */
function isIndexKey(k: string): boolean {
  return /^(?:0|[1-9]\d{0,9})$/.test(k) && Number(k) < 4294967295;
}

function time(v: unknown, name: string): number {
  if (!Number.isSafeInteger(v) || (v as number) < 0) throw new InvalidInputError(`patch: ${name} must be a non-negative integer`);
  return v as number;
}

/** Validate and serialise a patch once; throws InvalidInputError on misuse. */
export function patchText(patch: DataPatch, opts: PatchOptions): PatchText {
  if (patch === null || typeof patch !== 'object' || opts === null || typeof opts !== 'object') throw new InvalidInputError('patch: patch and options must be objects');
  time(opts.now, 'now');
  time(opts.expiresAt, 'expiresAt');
  const set: Array<[string, string]> = [];
  const del: string[] = [];
  for (const [k, v] of Object.entries(patch.set ?? {})) {
    const json = JSON.stringify(v);
    if (json === undefined) del.push(k);
    else set.push([k, json]);
  }
  for (const k of patch.del ?? []) {
    if (typeof k !== 'string') throw new InvalidInputError('patch: del must list string keys');
    del.push(k);
  }
  const expect: Array<[string, string | undefined]> = Object.entries(opts.expect ?? {}).map(([k, v]) => [k, JSON.stringify(v)]);
  return { set, del, expect, indexKey: set.some(([k]) => isIndexKey(k)) };
}

/**
 * Apply a patch to data as JSON text per key (the memory store's and the reference reading):
 * null when an expectation is not met, else the new data (existing keys keep their place, new
 * keys come last, as a JavaScript object orders them).
 */
export function applyPatch(data: Record<string, unknown>, p: PatchText): Record<string, unknown> | null {
  for (const [k, want] of p.expect) {
    const cur = Object.prototype.hasOwnProperty.call(data, k) ? JSON.stringify(data[k]) : undefined;
    if (cur !== want) return null;
  }
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(data)) put(out, k, data[k]);
  for (const [k, json] of p.set) put(out, k, JSON.parse(json));
  for (const k of p.del) delete out[k];
  return out;
}
