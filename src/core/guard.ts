/**
 * The manager's one extension point for device binding (`sessionward/dbsc`): a guard sees every
 * live record a request presents, may add headers to a response that issues a session cookie,
 * and may answer protocol endpoints of its own. The manager knows nothing of what is checked.
 */
import type { SessionRecord } from '../lib/record.js';
import type { RequestInfo } from './request.js';
import type { Session } from './session.js';

/** A request to a guard's own endpoint, as strings (adapters translate; the core sees no framework). */
export interface EndpointRequest {
  method: string;
  /** Path without the query string. */
  path: string;
  /** A request header by lower-case name, or null. */
  header(name: string): string | null;
  userAgent?: string | null;
  ip?: string | null;
}

/** What an adapter sends back for a guard's endpoint. */
export interface EndpointResponse {
  status: number;
  /** Set-Cookie may repeat. */
  headers: Array<[string, string]>;
  body: string;
}

/**
 * `Host` is what the guard needs of the manager it is given (the DBSC guard takes the
 * SessionManager itself); a type parameter, so this module does not import the manager.
 */
export interface SessionGuard<Host = unknown> {
  /** Called once by the manager that is given this guard. */
  attach(manager: Host): void;
  /**
   * On every load of a live record (also one reached through a rotation grace window): a short
   * reason to refuse it for this request, or null to admit it. The manager then treats the request
   * as anonymous (the record is kept, the cookie left alone) and emits `session.binding_violation`.
   * Must not throw on hostile input.
   */
  admit(record: SessionRecord, req: RequestInfo, now: number): Promise<string | null> | string | null;
  /** Headers to add to a response that issues a new session cookie (e.g. an offer to bind it). */
  onIssue?(session: Session<any>, now: number): Promise<Array<[string, string]>>;
  /** Answer one of the guard's own endpoints; null when the request is not for one. */
  endpoint?(req: EndpointRequest): Promise<EndpointResponse | null>;
}
