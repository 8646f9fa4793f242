/*
 * The session record: its shape (re-exported as part of the store contract,
 * src/stores/types.ts, where every guarantee about it is written down) and the one factory every
 * module builds records with — sessions, rotation pointers and fences, revocation marks, refresh
 * families, DPoP replay marks, express-session bridge entries, conformance cases. One place that
 * lists every field keeps one object shape (cheaper than spreads) and no field forgotten.
 * Imports nothing: lib/ sits below core/ and stores/. Not a public subpath.
 */

/**
 * One stored record. Units: times are ms since the Unix epoch, ids are the base64url SHA-256 of a
 * token (see SessionStore for the guarantees every store gives about them).
 */
export interface SessionRecord {
  /** base64url SHA-256 of the token. */
  id: string;
  /** Owner of the session, or null before login. Indexed for "my sessions". */
  userId: string | null;
  /** Application data (JSON-serialisable). */
  data: Record<string, unknown>;
  /** Incremented by every successful `update`; starts at 1. */
  version: number;
  createdAt: number;
  /** Last time activity was recorded (throttled; see `touchAfter`). */
  lastSeenAt: number;
  /** Time of the last (re-)authentication, for step-up checks (SEC-14). */
  authTime: number | null;
  /** Hard end of the session (SEC-11); never extended by activity. */
  absoluteExpiresAt: number;
  /** min(lastSeenAt + idle timeout, absoluteExpiresAt); the store's TTL target (SEC-19). */
  expiresAt: number;
  /** Device metadata for the session list (SEC-39). */
  meta: SessionMeta;
  /**
   * Set on the old record after a rotation: the old id resolves to this id until `expiresAt`
   * (a short grace window, SEC-18). A record with `rotatedTo` carries no data of its own.
   */
  rotatedTo?: string | null;
  /**
   * Write-side only (stores need not return it): keep this record until `expiresAt` even under
   * memory pressure (see the guarantees above). Set by the revocation module, never by sessions.
   */
  pinned?: boolean;
}

export interface SessionMeta {
  userAgent?: string;
  ip?: string;
  /** Free-form labels an application may add (e.g. "mfa": "totp"). */
  [key: string]: string | undefined;
}

/** What a new record needs; everything else has the value of a record nobody has touched yet. */
export interface NewRecord {
  id: string;
  /** Creation time: also the last activity unless `lastSeenAt` says otherwise. */
  now: number;
  expiresAt: number;
  /** Hard end; defaults to `expiresAt` (records that are not sessions have one deadline). */
  absoluteExpiresAt?: number;
  /** Null (the default) keeps a record out of `listByUser`/`deleteByUser`: only sessions have owners. */
  userId?: string | null;
  data?: Record<string, unknown>;
  meta?: SessionMeta;
  authTime?: number | null;
  createdAt?: number;
  lastSeenAt?: number;
  /** Revocation state only (see SessionRecord.pinned). */
  pinned?: boolean;
}

/** A new record, version 1: what `SessionStore.create` takes. */
export function newRecord(f: NewRecord): SessionRecord {
  const r: SessionRecord = {
    id: f.id,
    userId: f.userId ?? null,
    data: f.data ?? {},
    version: 1,
    createdAt: f.createdAt ?? f.now,
    lastSeenAt: f.lastSeenAt ?? f.now,
    authTime: f.authTime ?? null,
    absoluteExpiresAt: f.absoluteExpiresAt ?? f.expiresAt,
    expiresAt: f.expiresAt,
    meta: f.meta ?? {},
    rotatedTo: null,
  };
  // Only revocation state carries the flag: every other record keeps the common shape.
  if (f.pinned) r.pinned = true;
  return r;
}

/** What the next version of a record changes; the id, owner-independent fields and version follow. */
export type RecordChange = Partial<Omit<SessionRecord, 'id' | 'version'>>;

/**
 * The version after `r` (what `SessionStore.update(next, r.version)` takes): `r` with `change`
 * applied and the version one up. Meta is copied, so the caller may change it freely.
 */
export function nextVersion(r: SessionRecord, change: RecordChange): SessionRecord {
  // One literal, every field listed: the write path builds one of these per request.
  const next: SessionRecord = {
    id: r.id,
    userId: change.userId !== undefined ? change.userId : r.userId,
    data: change.data ?? r.data,
    version: r.version + 1,
    createdAt: change.createdAt ?? r.createdAt,
    lastSeenAt: change.lastSeenAt ?? r.lastSeenAt,
    authTime: change.authTime !== undefined ? change.authTime : r.authTime,
    absoluteExpiresAt: change.absoluteExpiresAt ?? r.absoluteExpiresAt,
    expiresAt: change.expiresAt ?? r.expiresAt,
    meta: { ...(change.meta ?? r.meta) },
    rotatedTo: change.rotatedTo !== undefined ? change.rotatedTo : (r.rotatedTo ?? null),
  };
  if (change.pinned ?? r.pinned) next.pinned = true;
  return next;
}

/**
 * The version after `r` holding `data`, with activity at `lastSeenAt` and the idle deadline
 * `expiresAt`: what every data write stores. The write path's own builder: a fixed argument list
 * keeps it monomorphic, where `nextVersion`'s change objects come in many shapes.
 */
export function nextData(r: SessionRecord, data: Record<string, unknown>, lastSeenAt: number, expiresAt: number): SessionRecord {
  const next = withData(r, data, r.version + 1);
  next.lastSeenAt = lastSeenAt;
  next.expiresAt = expiresAt;
  return next;
}

/** A record with the given data, every field listed: one object shape, cheaper than spreads. */
export function withData(r: SessionRecord, data: Record<string, unknown>, version = r.version): SessionRecord {
  return {
    id: r.id,
    userId: r.userId,
    data,
    version,
    createdAt: r.createdAt,
    lastSeenAt: r.lastSeenAt,
    authTime: r.authTime,
    absoluteExpiresAt: r.absoluteExpiresAt,
    expiresAt: r.expiresAt,
    meta: { ...r.meta },
    rotatedTo: r.rotatedTo ?? null,
  };
}

/**
 * A record as the SQL stores' insert parameters, in their shared column order: id, user_id, data,
 * version, created_at, last_seen_at, auth_time, absolute_expires_at, expires_at, meta, rotated_to.
 * `json` writes the data and meta columns (PostgreSQL's jsonb needs its own encoding).
 */
export function insertParams(r: SessionRecord, json: (v: unknown) => string = JSON.stringify): unknown[] {
  return [
    r.id,
    r.userId,
    json(r.data),
    r.version,
    r.createdAt,
    r.lastSeenAt,
    r.authTime,
    r.absoluteExpiresAt,
    r.expiresAt,
    json(r.meta ?? {}),
    r.rotatedTo ?? null,
  ];
}
