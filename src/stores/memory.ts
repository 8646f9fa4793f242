/**
 * In-memory store: for tests and single-process apps only. Sessions vanish on restart and are not
 * shared between processes, so "log out everywhere" holds only within this process.
 *
 * Bounded: at most `maxEntries` records, least-recently-used evicted first; pinned records
 * (revocation state) are never evicted and not counted, they leave when they expire. Expiry needs no timer
 * per session: reads check `expiresAt`, and every write sweeps a bounded slice of the oldest entries.
 *
 * @example
 * const manager = new SessionManager({ store: new MemoryStore({ maxEntries: 10_000 }) })
 */
import type { DataPatch, PatchOptions, SessionRecord, SessionStore } from './types.js';
import { withData } from '../lib/record.js';
import { applyPatch, patchText } from '../lib/patch.js';
import { noteData, parseData, takeWrite } from '../lib/data-json.js';

interface Entry {
  /** The record without its data; never handed out (callers get copies). */
  rec: SessionRecord;
  /** Serialised data: callers never share objects with the store. */
  dataJson: string;
  expiresAt: number;
  userId: string | null;
  /** Last time (store clock) the entry moved to the young end of the LRU order. */
  refreshedAt: number;
  /** Revocation state: never evicted before it expires (see the store contract). */
  pinned: boolean;
}

/** LRU order is refreshed at most this often per entry: re-inserting on every read costs more than it buys. */
const LRU_REFRESH_MS = 1000;

const NO_DATA: Record<string, unknown> = Object.freeze({}) as Record<string, unknown>;

function copyOut(e: Entry): SessionRecord {
  return withData(e.rec, parseData(e.dataJson));
}

export interface MemoryStoreOptions {
  /** Default 100 000. */
  maxEntries?: number;
  /** Entries examined for expiry per write. Default 16. */
  sweepBatch?: number;
  /** Clock for the background sweep; default Date.now. */
  clock?: () => number;
}

export class MemoryStore implements SessionStore {
  readonly name = 'memory';
  private readonly map = new Map<string, Entry>();
  private readonly byUser = new Map<string, Set<string>>();
  private readonly maxEntries: number;
  private readonly sweepBatch: number;
  private readonly clock: () => number;
  private pinnedCount = 0;

  constructor(options: MemoryStoreOptions = {}) {
    this.maxEntries = options.maxEntries ?? 100_000;
    this.sweepBatch = options.sweepBatch ?? 16;
    this.clock = options.clock ?? Date.now;
  }

  /** Number of records held (live or not yet swept). */
  get size(): number {
    return this.map.size;
  }

  async get(id: string, now: number): Promise<SessionRecord | null> {
    const e = this.map.get(id);
    if (!e) return null;
    if (e.expiresAt <= now) return null;
    // LRU: re-inserting moves the entry to the young end of the Map's order.
    const t = this.clock();
    if (t - e.refreshedAt >= LRU_REFRESH_MS) {
      e.refreshedAt = t;
      this.map.delete(id);
      this.map.set(id, e);
    }
    return copyOut(e);
  }

  async create(record: SessionRecord): Promise<boolean> {
    const cur = this.map.get(record.id);
    if (cur && cur.expiresAt > this.clock()) return false;
    if (cur) this.remove(record.id);
    this.put(record);
    return true;
  }

  async update(given: SessionRecord, expectedVersion: number, now: number): Promise<boolean> {
    // The contract holds in the store, not only in callers: activity never moves the end past the
    // absolute one (SEC-11), as the SQL stores' LEAST/MIN does.
    const record = given.expiresAt > given.absoluteExpiresAt ? { ...given, expiresAt: given.absoluteExpiresAt } : given;
    const cur = this.map.get(record.id);
    if (!cur || cur.expiresAt <= now) return false;
    if (cur.rec.version !== expectedVersion) return false;
    if (cur.userId !== record.userId) {
      this.remove(record.id);
      this.put({ ...record, version: expectedVersion + 1 });
      return true;
    }
    // Same owner: replace in place, no index churn (the common write).
    cur.rec = withData(record, NO_DATA, expectedVersion + 1);
    cur.dataJson = takeWrite(record.data) ?? JSON.stringify(record.data);
    cur.expiresAt = record.expiresAt;
    this.setPinned(cur, record.pinned === true);
    return true;
  }

  async patch(id: string, patch: DataPatch, opts: PatchOptions): Promise<SessionRecord | null> {
    const p = patchText(patch, opts);
    const cur = this.map.get(id);
    // Pinned records are revocation state, never session data: they change by update only.
    if (!cur || cur.expiresAt <= opts.now || cur.rec.rotatedTo || cur.pinned) return null;
    // The caller's base is the stored data while the version is unchanged: no parse needed.
    const b = opts.base;
    const from = b && b.id === id && b.version === cur.rec.version ? b.data : (JSON.parse(cur.dataJson) as Record<string, unknown>);
    const data = applyPatch(from, p);
    if (data === null) return null;
    const rec = withData(cur.rec, NO_DATA, cur.rec.version + 1);
    rec.lastSeenAt = opts.now;
    rec.expiresAt = Math.min(opts.expiresAt, rec.absoluteExpiresAt);
    cur.rec = rec;
    cur.dataJson = JSON.stringify(data);
    noteData(data, cur.dataJson);
    cur.expiresAt = rec.expiresAt;
    // The store keeps only the JSON text, so `data` (a fresh object, values shared at most with
    // the caller's own base) can be handed out as is.
    return withData(rec, data);
  }

  async touch(id: string, lastSeenAt: number, expiresAt: number, now: number): Promise<boolean> {
    const cur = this.map.get(id);
    // A rotation tombstone is never renewed: its grace window must stay short.
    if (!cur || cur.expiresAt <= now || cur.rec.rotatedTo) return false;
    const rec = withData(cur.rec, NO_DATA);
    rec.lastSeenAt = lastSeenAt;
    rec.expiresAt = Math.min(expiresAt, rec.absoluteExpiresAt);
    cur.rec = rec;
    cur.expiresAt = rec.expiresAt;
    return true;
  }

  async delete(id: string): Promise<void> {
    this.remove(id);
  }

  async listByUser(userId: string, now: number): Promise<SessionRecord[]> {
    const ids = this.byUser.get(userId);
    if (!ids) return [];
    const out: SessionRecord[] = [];
    for (const id of ids) {
      const e = this.map.get(id);
      if (e && e.expiresAt > now && !e.rec.rotatedTo) out.push(copyOut(e));
    }
    return out;
  }

  async deleteByUser(userId: string, exceptId?: string): Promise<number> {
    const ids = this.byUser.get(userId);
    if (!ids) return 0;
    let n = 0;
    const now = this.clock();
    for (const id of [...ids]) {
      if (id === exceptId) continue;
      const e = this.map.get(id);
      // Rotation pointers go with their owner's sessions but are not sessions themselves.
      if (e && e.expiresAt > now && !e.rec.rotatedTo) n++;
      this.remove(id);
    }
    return n;
  }

  async cleanup(now: number, limit = Infinity): Promise<number> {
    let n = 0;
    for (const [id, e] of this.map) {
      if (n >= limit) break;
      if (e.expiresAt <= now) {
        this.remove(id);
        n++;
      }
    }
    return n;
  }

  private put(r: SessionRecord): void {
    const rec = withData(r, NO_DATA);
    const e: Entry = { rec, dataJson: takeWrite(r.data) ?? JSON.stringify(r.data), expiresAt: r.expiresAt, userId: r.userId, refreshedAt: this.clock(), pinned: false };
    this.map.set(r.id, e);
    this.setPinned(e, r.pinned === true);
    if (r.userId !== null) {
      let s = this.byUser.get(r.userId);
      if (!s) this.byUser.set(r.userId, (s = new Set()));
      s.add(r.id);
    }
    this.sweep();
  }

  private remove(id: string): void {
    const e = this.map.get(id);
    if (!e) return;
    this.setPinned(e, false);
    this.map.delete(id);
    if (e.userId !== null) {
      const s = this.byUser.get(e.userId);
      s?.delete(id);
      if (s && s.size === 0) this.byUser.delete(e.userId);
    }
  }

  /** Bounded work per write: drop expired entries at the old end, then evict LRU over capacity. */
  private sweep(): void {
    const now = this.clock();
    let i = 0;
    for (const [id, e] of this.map) {
      if (i++ >= this.sweepBatch) break;
      if (e.expiresAt <= now) this.remove(id);
    }
    while (this.map.size - this.pinnedCount > this.maxEntries) {
      const [oldest, e] = this.map.entries().next().value as [string, Entry];
      if (!e.pinned) this.remove(oldest);
      else {
        // Skipped, not evicted: moved to the young end so the next pass does not meet it again.
        this.map.delete(oldest);
        this.map.set(oldest, e);
      }
    }
  }

  private setPinned(e: Entry, pinned: boolean): void {
    if (e.pinned !== pinned) this.pinnedCount += pinned ? 1 : -1;
    e.pinned = pinned;
  }
}
