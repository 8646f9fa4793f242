/**
 * `sessionward/monitor`: the one event type every part emits, a fan-out for sinks, the anomaly
 * detector, a logger sink and the hash-chained audit log. Metrics live in `sessionward/metrics`.
 */
export { fanOut } from './events.js';
export type { SessionwardEvent, MonitorEvent, EventSink } from './events.js';
export { createAuditLog, verifyAuditLog, auditRecord, AUDIT_FIELDS } from './audit-log.js';
export type { AuditLog, AuditLogOptions, AuditVerification } from './audit-log.js';
export { Detector, DEFAULT_WEIGHTS, DEFAULT_THRESHOLDS, RISK_KEY } from './detector.js';
export type { Signal, Action, Anomaly, DetectorOptions, GeoInfo } from './detector.js';
export { networkOf, userAgentFamily } from './network.js';
export { loggerSink } from './logger.js';
export type { LoggerLike, LoggerSinkOptions } from './logger.js';
