/**
 * `sessionward/monitor`: the one event type every part emits, a fan-out for sinks, and the
 * hash-chained audit log. Metrics live in `sessionward/metrics`.
 */
export { fanOut } from './events.js';
export type { SessionwardEvent, MonitorEvent, EventSink } from './events.js';
export { createAuditLog, verifyAuditLog, auditRecord, AUDIT_FIELDS } from './audit-log.js';
export type { AuditLog, AuditLogOptions, AuditVerification } from './audit-log.js';
