/** @internal Record helpers shared by the engine and the stores. */
import type { SessionRecord } from '../stores/types.js';

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
