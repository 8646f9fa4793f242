/**
 * The security dashboard's history: every event of the stream (the library's and the app's own)
 * as one row of a small SQLite table, so the figures survive a restart and are read with SQL. The
 * live counters for Prometheus are the library's (`sessionward/metrics`); this keeps what a person
 * at the dashboard asks afterwards: who failed most, what was throttled, which anomalies fired and
 * what was done about them.
 *
 * Rows hold the library's allow-listed copy of an event (`auditRecord`): keyed hashes, codes,
 * addresses — never a token, a password or a CSRF token (SEC-41). The table is bounded by age and
 * by row count.
 *
 * @example
 * const log = new SecurityLog(new Database('data/security.db'), Date.now)
 * const sink = fanOut(metrics.onEvent, log.record)
 * log.topFailing('ip', Date.now() - 86_400_000)
 */
import { auditRecord } from 'sessionward/monitor';

/** What the log needs of a database: better-sqlite3 and node:sqlite's DatabaseSync both fit. */
export interface SqlDb {
  exec(sql: string): unknown;
  prepare(sql: string): { run(...params: unknown[]): unknown; get(...params: unknown[]): unknown; all(...params: unknown[]): unknown[] };
}

/** One event as the feed and the dashboard see it. */
export interface LoggedEvent {
  type: string;
  /** ISO-8601 UTC. */
  at: string;
  sid?: string;
  userId?: string | null;
  ip?: string;
  userAgent?: string;
  reason?: string;
  signal?: string;
  action?: string;
  count?: number;
}

interface Row {
  id: number;
  at: number;
  type: string;
  sid: string | null;
  user_id: string | null;
  ip: string | null;
  user_agent: string | null;
  reason: string | null;
  signal: string | null;
  action: string | null;
  count: number | null;
}

/** Sign-in style failures (a wrong secret was typed) and throttling (the attempt was not even checked). */
export const FAILED_TYPES = ['signin.failure', 'mfa.failure', 'reauth.failure'] as const;
export const THROTTLED_TYPES = ['signin.rate_limited', 'signup.rate_limited'] as const;

const KEEP_MS = 30 * 24 * 3_600_000;
const KEEP_ROWS = 200_000;
const PRUNE_EVERY = 500;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS security_events (
  id INTEGER PRIMARY KEY,
  at INTEGER NOT NULL,
  type TEXT NOT NULL,
  sid TEXT, user_id TEXT, ip TEXT, user_agent TEXT, reason TEXT, signal TEXT, action TEXT, count INTEGER
);
CREATE INDEX IF NOT EXISTS security_events_type_at ON security_events (type, at);
CREATE INDEX IF NOT EXISTS security_events_at ON security_events (at);
CREATE TABLE IF NOT EXISTS security_counters (name TEXT PRIMARY KEY, n INTEGER NOT NULL);
`;

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

function toEvent(r: Row): LoggedEvent {
  const e: LoggedEvent = { type: r.type, at: new Date(r.at).toISOString() };
  if (r.sid !== null) e.sid = r.sid;
  if (r.user_id !== null) e.userId = r.user_id;
  if (r.ip !== null) e.ip = r.ip;
  if (r.user_agent !== null) e.userAgent = r.user_agent;
  if (r.reason !== null) e.reason = r.reason;
  if (r.signal !== null) e.signal = r.signal;
  if (r.action !== null) e.action = r.action;
  if (r.count !== null) e.count = r.count;
  return e;
}

const placeholders = (n: number) => Array<string>(n).fill('?').join(', ');

export class SecurityLog {
  private readonly listeners = new Set<(e: LoggedEvent) => void>();
  private readonly insert: ReturnType<SqlDb['prepare']>;
  private readonly bump: ReturnType<SqlDb['prepare']>;
  private writes = 0;

  constructor(
    private readonly db: SqlDb,
    private readonly clock: () => number,
  ) {
    db.exec(SCHEMA);
    this.insert = db.prepare('INSERT INTO security_events (at, type, sid, user_id, ip, user_agent, reason, signal, action, count) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)');
    this.bump = db.prepare('INSERT INTO security_counters (name, n) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET n = n + excluded.n');
    this.prune();
  }

  /** Event sink for the library's stream and the app's own events. Never throws. */
  readonly record = (event: { type: string }): void => {
    try {
      const f = auditRecord(event as unknown as Record<string, unknown>);
      const parsed = typeof f.at === 'string' ? Date.parse(f.at) : NaN;
      const at = Number.isFinite(parsed) ? parsed : this.clock();
      const count = typeof f.count === 'number' ? f.count : null;
      this.insert.run(at, String(f.type), str(f.sid), str(f.userId), str(f.ip), str(f.userAgent), str(f.reason), str(f.signal), str(f.action), count);
      if (++this.writes % PRUNE_EVERY === 0) this.prune();
      const e = toEvent({ id: 0, at, type: String(f.type), sid: str(f.sid), user_id: str(f.userId), ip: str(f.ip), user_agent: str(f.userAgent), reason: str(f.reason), signal: str(f.signal), action: str(f.action), count });
      for (const l of this.listeners) l(e);
    } catch {
      // A full disk must not fail the request that caused the event; the audit log and metrics still see it.
    }
  };

  /** Add to named counters that survive a restart (cookie checks). */
  add(counts: Record<string, number>): void {
    try {
      for (const [name, n] of Object.entries(counts)) this.bump.run(name, n);
    } catch {
      // See record().
    }
  }

  counters(prefix: string): Record<string, number> {
    const rows = this.db.prepare('SELECT name, n FROM security_counters WHERE name LIKE ?').all(`${prefix}%`) as Array<{ name: string; n: number }>;
    return Object.fromEntries(rows.map((r) => [r.name.slice(prefix.length), r.n]));
  }

  subscribe(fn: (e: LoggedEvent) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** The newest events, oldest first. */
  recent(limit = 50): LoggedEvent[] {
    const rows = this.db.prepare('SELECT * FROM security_events ORDER BY id DESC LIMIT ?').all(limit) as Row[];
    return rows.reverse().map(toEvent);
  }

  /** How many events of `type` there were since `since` (ms; default: all kept). */
  count(type: string, since = 0): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM security_events WHERE type = ? AND at >= ?').get(type, since) as { n: number }).n;
  }

  /** Event counts by type since `since`; `sessions.revoked` adds up its `count` (one event, many sessions). */
  countsByType(since: number): Record<string, number> {
    const rows = this.db.prepare("SELECT type, SUM(CASE WHEN type = 'sessions.revoked' THEN COALESCE(count, 0) ELSE 1 END) AS n FROM security_events WHERE at >= ? GROUP BY type").all(since) as Array<{ type: string; n: number }>;
    return Object.fromEntries(rows.map((r) => [r.type, r.n]));
  }

  /** Addresses or accounts with the most failed and throttled attempts since `since`. */
  topFailing(by: 'ip' | 'user_id', since: number, limit = 5): Array<{ key: string; failed: number; throttled: number }> {
    const types = [...FAILED_TYPES, ...THROTTLED_TYPES];
    const sql = `SELECT ${by} AS key,
        SUM(type IN (${placeholders(FAILED_TYPES.length)})) AS failed,
        SUM(type IN (${placeholders(THROTTLED_TYPES.length)})) AS throttled
      FROM security_events WHERE at >= ? AND ${by} IS NOT NULL AND type IN (${placeholders(types.length)})
      GROUP BY ${by} ORDER BY failed + throttled DESC, key LIMIT ?`;
    return this.db.prepare(sql).all(...FAILED_TYPES, ...THROTTLED_TYPES, since, ...types, limit) as Array<{ key: string; failed: number; throttled: number }>;
  }

  /** Anomalies since `since` by signal and the action the detector took. */
  anomalies(since: number): Array<{ signal: string; action: string; count: number }> {
    return this.db
      .prepare("SELECT COALESCE(signal, 'unknown') AS signal, COALESCE(action, 'unknown') AS action, COUNT(*) AS count FROM security_events WHERE type = 'anomaly.detected' AND at >= ? GROUP BY 1, 2 ORDER BY count DESC, signal LIMIT 50")
      .all(since) as Array<{ signal: string; action: string; count: number }>;
  }

  /** CSRF refusals since `since` by reason. */
  csrfReasons(since: number): Array<{ reason: string; count: number }> {
    return this.db
      .prepare("SELECT COALESCE(reason, 'unknown') AS reason, COUNT(*) AS count FROM security_events WHERE type = 'csrf.rejected' AND at >= ? GROUP BY 1 ORDER BY count DESC")
      .all(since) as Array<{ reason: string; count: number }>;
  }

  /** Per-minute counts of the given types over the last `minutes` minutes (oldest first). */
  perMinute(types: readonly string[], minutes: number): { start: number; data: Record<string, number[]> } {
    const current = Math.floor(this.clock() / 60_000);
    const first = current - minutes + 1;
    const data: Record<string, number[]> = Object.fromEntries(types.map((t) => [t, Array<number>(minutes).fill(0)]));
    const rows = this.db
      .prepare(`SELECT at / 60000 AS m, type, SUM(CASE WHEN type = 'sessions.revoked' THEN COALESCE(count, 0) ELSE 1 END) AS n FROM security_events WHERE at >= ? AND type IN (${placeholders(types.length)}) GROUP BY 1, 2`)
      .all(first * 60_000, ...types) as Array<{ m: number; type: string; n: number }>;
    for (const r of rows) {
      const i = Math.floor(r.m) - first;
      if (i >= 0 && i < minutes) data[r.type]![i]! += r.n;
    }
    return { start: first * 60_000, data };
  }

  /** Forget events older than KEEP_MS and all but the newest KEEP_ROWS. */
  private prune(): void {
    this.db.prepare('DELETE FROM security_events WHERE at < ?').run(this.clock() - KEEP_MS);
    this.db.prepare('DELETE FROM security_events WHERE id <= (SELECT id FROM security_events ORDER BY id DESC LIMIT 1 OFFSET ?)').run(KEEP_ROWS);
  }

  close(): void {
    this.listeners.clear();
  }
}
