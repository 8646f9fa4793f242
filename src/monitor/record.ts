/**
 * The allow-listed copy of an event that a log line may hold (audit log, logger sink). Free of
 * Node built-ins: the session manager's `logger` option uses it on every runtime.
 */

/** Fields an audit line may carry. Anything else an event holds is dropped. */
export const AUDIT_FIELDS = [
  'type', 'at', 'sid', 'newSid', 'userId', 'ip', 'userAgent', 'reason', 'count', 'method', 'cookie', 'kind',
  'fromKid', 'toKid', 'from', 'sidHash', 'tokenHash', 'subHash', 'idHash', 'userHash', 'validAfter', 'familyHash',
  'signal', 'action', 'score', 'store', 'op', 'code', 'ms',
] as const;

const MAX_STRING = 300;

/** The allow-listed copy of an event that goes into a line. */
export function auditRecord(event: Record<string, unknown>): Record<string, string | number | null> {
  const out: Record<string, string | number | null> = {};
  for (const k of AUDIT_FIELDS) {
    const v = event[k];
    if (typeof v === 'string') out[k] = v.slice(0, MAX_STRING);
    else if (typeof v === 'number' && Number.isFinite(v)) out[k] = v;
    else if (v === null && k === 'userId') out[k] = null;
  }
  return out;
}
