/**
 * Events emitted by the stateless modules (SEC-40). Each carries an ISO-8601 UTC time and only
 * hashes of tokens or ids, never the raw value (SEC-41).
 */
export interface SessionEventBase {
  type: string;
  /** ISO-8601 UTC. */
  at: string;
}

export type StatelessEvent =
  | { type: 'sealed.invalid'; at: string; cookie: string; reason: 'malformed' | 'unknown-key' | 'bad-seal' | 'too-large' }
  | { type: 'sealed.expired'; at: string; cookie: string; kind: 'idle' | 'absolute' }
  | { type: 'sealed.rekeyed'; at: string; cookie: string; fromKid: string; toKid: string }
  | { type: 'sealed.migrated'; at: string; cookie: string; from: 'iron' }
  | { type: 'sealed.revoked'; at: string; cookie: string; sidHash: string }
  | { type: 'token.invalid'; at: string; tokenHash: string }
  | { type: 'token.revoked'; at: string; tokenHash: string; subHash: string }
  | { type: 'revocation.session'; at: string; idHash: string }
  | { type: 'revocation.user'; at: string; userHash: string; validAfter: number }
  | { type: 'refresh.issued'; at: string; familyHash: string }
  | { type: 'refresh.rotated'; at: string; familyHash: string }
  | { type: 'refresh.race'; at: string; familyHash: string }
  | { type: 'refresh.reuse'; at: string; familyHash: string; tokenHash: string }
  | { type: 'refresh.revoked'; at: string; familyHash: string };

export type OnStatelessEvent = (e: StatelessEvent) => void;
