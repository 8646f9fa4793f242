/**
 * A session's device binding lives inside its record, under a reserved data key: no store schema
 * changes, every store keeps it atomically with the session, it is copied by every rotation of the
 * same session (renewal, privilege change, second factor), dropped by a login (a new principal is
 * not the device's), and ends with the record — logout, revoke-device, destroy-all and expiry end
 * the binding with the session.
 */

/** Reserved session-data key holding the binding. */
export const BINDING_KEY = '__sw_bind';

export type BindingKind = 'dbsc' | 'none';

export interface DeviceBinding {
  kind: 'dbsc';
  /** Signature algorithm of the device key. */
  alg: 'ES256' | 'RS256';
  /** RFC 7638 SHA-256 thumbprint of the device's public key. */
  jkt: string;
  /** The device's public key (needed to verify refresh proofs, which carry no key). */
  jwk: Record<string, string>;
  /** When the key was bound (ms since epoch). */
  boundAt: number;
  /** Stable identifier of the browser's DBSC session (`session_identifier`). */
  sid: string;
  /** The last challenge claimed with this binding: a challenge is claimed once (replay guard). */
  last?: string;
}

/** The binding in a record's data, or null; anything malformed counts as none. Never throws. */
export function bindingOf(data: Record<string, unknown> | null | undefined): DeviceBinding | null {
  const b = data?.[BINDING_KEY] as Partial<DeviceBinding> | undefined;
  if (!b || typeof b !== 'object' || b.kind !== 'dbsc') return null;
  if (typeof b.jkt !== 'string' || typeof b.sid !== 'string' || typeof b.boundAt !== 'number') return null;
  if ((b.alg !== 'ES256' && b.alg !== 'RS256') || !b.jwk || typeof b.jwk !== 'object') return null;
  return b as DeviceBinding;
}
