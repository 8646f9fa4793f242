/** Shared types of the reference app: its configuration, session data and service container. */
import type { SessionManager, SessionStore } from 'sessionward';
import type { NodeSessions, TrustProxy } from 'sessionward/node';
import type { Accounts } from './accounts.js';
import type { Monitoring } from './monitoring.js';
import type { Stats } from './dashboard.js';
import type { Backoff, FailureLimiter } from './ratelimit.js';
import type { DeviceCookies } from './device.js';

export interface Flash {
  kind: 'ok' | 'error' | 'info';
  text: string;
}

/** What the app keeps in a session (server-side; the cookie only carries the token). */
export interface SessionData extends Record<string, unknown> {
  flash?: Flash;
  /** Token generation: 1 at sign-in, +1 at every rotation. Shown on the account page. */
  gen?: number;
  /** Recent rotations of this session, newest last (at most 8). */
  rotations?: Array<{ at: number; reason: string }>;
  /** Set when the detector saw this session's network or browser change (the account page says so). */
  risk?: { ip?: string; ua?: string };
  /** TOTP secret offered during enrolment, until the user confirms it with a code. */
  totpPending?: string;
  /** Written by "stay signed in" so that the request is a real activity write. */
}

export interface AppConfig {
  /** Directory for accounts.db, audit.jsonl (and the default SQLite session store). */
  dataDir: string;
  store: SessionStore;
  /** Kind of session store ("SQLite", "Redis", ...), shown on the public security page. */
  storeLabel: string;
  /**
   * Where the store is (file path, URL without credentials). Shown to administrators only: a path
   * tells an anonymous visitor about the host's file system and user names.
   */
  storeLocation?: string;
  /** Cookie MAC key ring, newest first, each at least 32 bytes. */
  secrets: string[];
  /** Serve with production cookie settings (`__Host-`, Secure). False = plain-HTTP development. */
  https: boolean;
  /** Device Bound Session Credentials (`sessionward/dbsc`) with this bound-cookie lifetime; null = off. */
  dbsc?: { boundMs: number } | null;
  idleMs: number;
  absoluteMs: number;
  /** How long before the idle timeout the browser warns. */
  warnMs: number;
  touchAfterMs?: number;
  /** Maximum age of the last authentication for sensitive operations (SEC-14). */
  stepUpMs: number;
  /**
   * Sign-in throttling: `accountMax` failures per account from one address (or one known device)
   * before exponential backoff, `ipMax` failures per address across accounts, `untrustedMax`
   * failures per account from devices that never signed in to it, all
   * per `windowMs`; `signupMax` sign-up attempts per address per `windowMs` (default 10). See
   * docs/reference-app.md, "How the protections are wired" (Guessing and lockout; Sign-up).
   */
  rateLimit: { accountMax: number; ipMax: number; windowMs: number; untrustedMax: number; signupMax?: number };
  /** scrypt cost N = 2^scryptLogN; at least 17 (OWASP), the default. Lower only through `insecureTestScrypt`. */
  scryptLogN?: number;
  /** The named low-cost setting for tests (N = 2^10); refused unless NODE_ENV is `test`. */
  insecureTestScrypt?: boolean;
  /** Seeded admin account; its password is reset to this at every start. */
  demo: { email: string; password: string } | null;
  /** Offer the "become admin" demo toggle to every user. */
  demoRoles: boolean;
  /**
   * Reverse proxies in front of the app whose `X-Forwarded-For` is believed (a hop count or their
   * addresses). Unset: the socket address is the client, whatever the header says.
   */
  trustProxy?: TrustProxy;
  /**
   * Bearer token /metrics requires. Without it /metrics is closed (401) unless `metricsPublic`
   * opens it by name: its counters tell a stranger how many sessions are live and how sign-ins go.
   */
  metricsToken?: string;
  /** Serve /metrics to anyone (a scraper on a private network). Ignored when `metricsToken` is set. */
  metricsPublic?: boolean;
  /** Append audit events here; null disables the file. */
  auditFile: string | null;
  clock?: () => number;
  log?: (line: string) => void;
}

export interface AppState {
  config: AppConfig;
  clock: () => number;
  manager: SessionManager<SessionData>;
  sessions: NodeSessions<SessionData>;
  accounts: Accounts;
  monitor: Monitoring;
  /** The security dashboard's figures (history from SQLite, live counts from the store). */
  stats: () => Promise<Stats>;
  limits: {
    /** Sign-in failures per (account, address) of devices without a device cookie for it. */
    source: Backoff;
    /** Sign-in failures per device cookie (a browser that signed in to that account before). */
    device: Backoff;
    /** Sign-in failures per address, any account. */
    ip: FailureLimiter;
    /** Sign-in failures per account from all devices without its device cookie (distributed guessing). */
    untrusted: FailureLimiter;
    /** Wrong second-factor codes per user: only reachable with the right password. */
    totp: FailureLimiter;
    /** Wrong passwords at step-up per user: only reachable from a signed-in session. */
    reauth: FailureLimiter;
    /** Sign-up attempts (valid forms) per address, whatever the outcome. */
    signup: FailureLimiter;
  };
  devices: DeviceCookies;
  /** Origins accepted for unsafe requests; set once the server knows its port. */
  origins: string[];
  log: (line: string) => void;
}
