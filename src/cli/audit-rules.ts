/**
 * The audit's rules, weights and grades: pure functions over what the audit observed. Each rule
 * and weight is listed in docs/audit.md; keep the two in step.
 *
 * Scoring follows Mozilla HTTP Observatory: start at 100, subtract a weight per failed rule, and
 * count each rule once, with its worst cookie (so ten bad cookies do not cost more than one).
 * Cookie rules learn from Observatory's cookie test and OWASP ZAP's passive rules 10010 (HttpOnly),
 * 10011 (Secure), 10054 (SameSite), 90033 (loosely scoped cookie) and 3 (session id in URL);
 * prefixes, lifetime, caching of Set-Cookie, fixation, logout and entropy are added here.
 */
import { parseSetCookie } from '../cookie/index.js';
import { isDeletion } from './http.js';

export type Severity = 'high' | 'medium' | 'low' | 'info';
export type Grade = 'A+' | 'A' | 'B' | 'C' | 'D' | 'F';
export const GRADES: readonly Grade[] = ['A+', 'A', 'B', 'C', 'D', 'F'];

export type FindingId =
  | 'cookie-no-secure'
  | 'cookie-no-httponly'
  | 'cookie-no-samesite'
  | 'cookie-samesite-none-insecure'
  | 'cookie-no-host-prefix'
  | 'cookie-broad-domain'
  | 'cookie-long-lifetime'
  | 'cookie-cacheable'
  | 'session-id-in-url'
  | 'no-hsts'
  | 'token-low-entropy'
  | 'session-fixation'
  | 'logout-not-invalidating';

export interface Finding {
  id: FindingId;
  severity: Severity;
  cookie?: string;
  message: string;
  /** How to fix it (human output only). */
  fix: string;
  /** Points subtracted from 100 (only the largest per id counts). */
  weight: number;
}

/** One Set-Cookie header as received. */
export interface SeenCookie {
  header: string;
  /** The response's URL (its scheme and host matter). */
  url: URL;
  cacheControl?: string;
  /** The response's Date header, for Expires; defaults to now. */
  date?: string;
}

export interface AuditFacts {
  target: URL;
  /** The final response of the first page load. */
  final: { url: URL; hsts?: string };
  cookies: SeenCookie[];
  /** Every URL the audit saw: requested, redirected to, or linked from a page. */
  urls: string[];
  /** Cookies the login response set or changed: session cookies when none is recognised by name. */
  loginCookies?: string[];
  entropy?: { cookie: string; samples: number; bits: number; pass: boolean; reasons: string[] };
  fixation?: { cookie: string; kept: boolean; stillWorks: boolean };
  logout?: { cookie: string; stillWorks: boolean };
}

const DAY = 86_400;
const SIX_MONTHS = 15_768_000;
// Observatory recognises session cookies by name; a few more common spellings are added here.
const SESSION_NAME = /sess|(^|[^a-z])sid([^a-z]|$)|auth|token|login|jwt|remember|identity/i;
// Double-submit CSRF cookies are meant to be read by scripts (Observatory exempts them too).
const CSRF_NAME = /csrf|xsrf/i;
const URL_SESSION_PARAM = /[;?&](jsessionid|phpsessid|aspsessionid\w*|sid|sessionid|session_id|session)=([^&#;\s"'<>]{8,})/i;

/** Whether a cookie name looks like a session cookie (ignoring __Host-/__Secure- prefixes). */
export function isSessionName(name: string): boolean {
  const bare = name.replace(/^__(Host|Secure)-/, '');
  return SESSION_NAME.test(bare) && !CSRF_NAME.test(bare);
}

interface Parsed {
  name: string;
  value: string;
  a: Record<string, string | true>;
  seen: SeenCookie;
}

function lifetimeSeconds(p: Parsed): number | null {
  const ma = p.a['max-age'];
  if (typeof ma === 'string' && /^-?\d+$/.test(ma)) return Number(ma);
  if (typeof p.a.expires === 'string') {
    const t = Date.parse(p.a.expires);
    const now = p.seen.date ? Date.parse(p.seen.date) : Date.now();
    if (Number.isFinite(t)) return Math.round((t - (Number.isFinite(now) ? now : Date.now())) / 1000);
  }
  return null;
}

function cookieRules(p: Parsed, session: boolean, add: (f: Omit<Finding, 'cookie'>) => void): void {
  const secure = p.a.secure === true;
  const https = p.seen.url.protocol === 'https:';
  const kind = session ? 'session cookie' : 'cookie';
  if (!secure || !https) {
    add({
      id: 'cookie-no-secure',
      severity: session ? 'high' : 'medium',
      weight: session ? 40 : 20,
      message: https ? `${kind} set without Secure: the browser also sends it over plain HTTP` : `${kind} set over plain HTTP: anyone on the network can read it`,
      fix: 'serve the site over HTTPS only and add Secure to the cookie',
    });
  }
  if (p.a.httponly !== true && !CSRF_NAME.test(p.name)) {
    add({
      id: 'cookie-no-httponly',
      severity: session ? 'high' : 'info',
      weight: session ? 30 : 0,
      message: `${kind} without HttpOnly: any script on the page (an XSS payload) can read it`,
      fix: 'add HttpOnly',
    });
  }
  const ss = typeof p.a.samesite === 'string' ? p.a.samesite.toLowerCase() : undefined;
  if (ss !== 'strict' && ss !== 'lax') {
    const none = ss === 'none';
    add({
      id: 'cookie-no-samesite',
      severity: none ? (session ? 'low' : 'info') : session ? 'medium' : 'low',
      weight: none ? (session ? 10 : 0) : session ? 20 : 5,
      message: none
        ? `${kind} with SameSite=None: sent on every cross-site request`
        : ss === undefined
          ? `${kind} without SameSite: older browsers send it on cross-site requests (CSRF)`
          : `${kind} with an invalid SameSite value "${String(p.a.samesite)}"`,
      fix: 'add SameSite=Lax (or Strict)',
    });
    if (none && !secure) {
      add({
        id: 'cookie-samesite-none-insecure',
        severity: 'medium',
        weight: 20,
        message: `${kind} with SameSite=None but no Secure: current browsers refuse it, older ones send it cross-site over plain HTTP`,
        fix: 'use SameSite=Lax; if it really must go cross-site, add Secure',
      });
    }
  }
  if (session) {
    if (!p.name.startsWith('__Host-')) {
      const sec = p.name.startsWith('__Secure-');
      add({
        id: 'cookie-no-host-prefix',
        severity: sec ? 'info' : 'low',
        weight: sec ? 0 : 5,
        message: sec
          ? 'session cookie uses __Secure- but not __Host-: a sibling subdomain can still set it'
          : 'session cookie without the __Host- prefix: a subdomain or a plain-HTTP page can plant or overwrite it',
        fix: 'name it __Host-<name> with Secure, Path=/ and no Domain',
      });
    } else if (!secure || p.a.domain !== undefined || p.a.path !== '/') {
      add({
        id: 'cookie-no-host-prefix',
        severity: 'medium',
        weight: 10,
        message: 'session cookie named __Host- without Secure, Path=/ and no Domain: browsers refuse to store it',
        fix: 'set Secure and Path=/ and drop Domain',
      });
    }
  }
  if (typeof p.a.domain === 'string' && p.a.domain !== '') {
    const d = p.a.domain.replace(/^\./, '').toLowerCase();
    const host = p.seen.url.hostname.toLowerCase();
    const parent = d !== host;
    add({
      id: 'cookie-broad-domain',
      severity: parent ? (session ? 'medium' : 'low') : session ? 'low' : 'info',
      weight: parent ? (session ? 20 : 5) : session ? 5 : 0,
      message: parent
        ? `${kind} scoped to the parent domain ${d}: every other host under it receives it`
        : `${kind} with Domain=${d}: every subdomain of ${host} receives it`,
      fix: 'drop the Domain attribute (a host-only cookie)',
    });
  }
  const life = lifetimeSeconds(p);
  if (life !== null && ((session && life > 30 * DAY) || life > 400 * DAY)) {
    add({
      id: 'cookie-long-lifetime',
      severity: session ? 'medium' : 'low',
      weight: session ? 20 : 5,
      message: `${session ? 'persistent session cookie' : 'cookie'} lives ${Math.round(life / DAY)} days (limit ${session ? 30 : 400})`,
      fix: session ? 'drop Max-Age/Expires (a browser-session cookie) or keep it under 30 days' : 'keep it under 400 days (browsers cap it there anyway)',
    });
  }
  const cc = (p.seen.cacheControl ?? '').toLowerCase();
  if (!/\b(no-store|private)\b/.test(cc)) {
    add({
      id: 'cookie-cacheable',
      severity: session ? 'medium' : 'low',
      weight: session ? 15 : 5,
      message: `Set-Cookie for this ${kind} on a response without Cache-Control: no-store or private (${p.seen.url.pathname}): a shared cache may hand it to someone else`,
      fix: 'send Cache-Control: no-store on every response that sets a cookie',
    });
  }
}

/** Apply every rule; findings come sorted by weight (largest first). */
export function evaluate(f: AuditFacts): Finding[] {
  const out: Finding[] = [];
  const parsed: Parsed[] = [];
  for (const seen of f.cookies) {
    const c = parseSetCookie(seen.header);
    if (!c || isDeletion(c.attributes)) continue;
    parsed.push({ name: c.name, value: c.value, a: c.attributes, seen });
  }
  const byName = parsed.some((p) => isSessionName(p.name));
  const fromLogin = new Set(f.loginCookies ?? []);
  const isSession = (name: string) => (byName ? isSessionName(name) : fromLogin.has(name) && !CSRF_NAME.test(name));
  // Every Set-Cookie is judged; the same cookie set twice the same way gives one finding.
  const seenKeys = new Set<string>();
  for (const p of parsed) {
    cookieRules(p, isSession(p.name), (x) => {
      const key = `${x.id}\0${p.name}\0${x.weight}`;
      if (seenKeys.has(key)) return;
      seenKeys.add(key);
      out.push({ ...x, cookie: p.name });
    });
  }

  const sessionValues = parsed.filter((p) => isSession(p.name) && p.value.length >= 8).map((p) => p.value);
  for (const u of f.urls) {
    const m = URL_SESSION_PARAM.exec(u);
    const leaked = sessionValues.find((v) => u.includes(v) || u.includes(encodeURIComponent(v)));
    if (m || leaked) {
      out.push({
        id: 'session-id-in-url',
        severity: 'high',
        weight: 30,
        message: `a session identifier appears in a URL (${u.length > 120 ? `${u.slice(0, 117)}...` : u}): it leaks through logs, history and Referer`,
        fix: 'keep session identifiers in cookies only; turn off URL rewriting',
      });
      break;
    }
  }

  if (f.final.url.protocol !== 'https:') {
    out.push({
      id: 'no-hsts',
      severity: 'medium',
      weight: 10,
      message: `the site is served over plain HTTP (${f.final.url.origin}): there is no HTTPS to pin with HSTS`,
      fix: 'serve over HTTPS, redirect HTTP to it, and send Strict-Transport-Security: max-age=63072000',
    });
  } else {
    const m = /max-age\s*=\s*"?(\d+)/i.exec(f.final.hsts ?? '');
    if (!m) {
      out.push({
        id: 'no-hsts',
        severity: 'medium',
        weight: 10,
        message: 'no Strict-Transport-Security header: a first visit over http:// can be intercepted',
        fix: 'send Strict-Transport-Security: max-age=63072000; includeSubDomains',
      });
    } else if (Number(m[1]) < SIX_MONTHS) {
      out.push({
        id: 'no-hsts',
        severity: 'low',
        weight: 5,
        message: `Strict-Transport-Security max-age ${m[1]} is under six months`,
        fix: 'use max-age=63072000 (two years)',
      });
    }
  }

  if (f.entropy && !f.entropy.pass) {
    out.push({
      id: 'token-low-entropy',
      severity: 'high',
      weight: 40,
      cookie: f.entropy.cookie,
      message: `${f.entropy.samples} fresh session tokens look predictable: ${f.entropy.reasons.join('; ')}`,
      fix: 'generate session ids from a CSPRNG (crypto.randomBytes(32)), never from Math.random, counters, time or short hashes',
    });
  }
  if (f.fixation && (f.fixation.kept || f.fixation.stillWorks)) {
    out.push({
      id: 'session-fixation',
      severity: 'high',
      weight: 40,
      cookie: f.fixation.cookie,
      message: f.fixation.kept
        ? 'the session cookie from before login is kept after login: whoever planted it shares the signed-in session'
        : 'the session cookie from before login still authenticates after login',
      fix: 'issue a new session id at login (express-session: req.session.regenerate) and invalidate the old one',
    });
  }
  if (f.logout?.stillWorks) {
    out.push({
      id: 'logout-not-invalidating',
      severity: 'high',
      weight: 30,
      cookie: f.logout.cookie,
      message: 'the session cookie still authenticates after logout: a stolen copy outlives the sign-out',
      fix: 'delete the server-side session at logout (express-session: req.session.destroy), not just the cookie',
    });
  }
  return out.sort((a, b) => b.weight - a.weight);
}

/** 100 minus the largest weight of each rule that failed, never below 0. */
export function score(findings: readonly Finding[]): number {
  const worst = new Map<FindingId, number>();
  for (const f of findings) worst.set(f.id, Math.max(worst.get(f.id) ?? 0, f.weight));
  let s = 100;
  for (const w of worst.values()) s -= w;
  return Math.max(0, s);
}

/** Grade bands (docs/audit.md). */
export function grade(s: number): Grade {
  if (s >= 100) return 'A+';
  if (s >= 90) return 'A';
  if (s >= 75) return 'B';
  if (s >= 60) return 'C';
  if (s >= 40) return 'D';
  return 'F';
}

/** Whether `g` is at or above `floor`. */
export function atLeast(g: Grade, floor: Grade): boolean {
  return GRADES.indexOf(g) <= GRADES.indexOf(floor);
}
