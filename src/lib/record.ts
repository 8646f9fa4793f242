/** @internal Record helpers shared by the engine and the in-process store. */
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

