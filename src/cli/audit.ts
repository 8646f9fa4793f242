/**
 * `sessionward audit <url>`: grade any site's session handling from outside. Loads the page (and
 * its redirects), judges every Set-Cookie; optionally samples fresh session tokens, signs in
 * through the site's form to test fixation, and signs out to test that the old cookie dies.
 * Rules and weights: src/cli/audit-rules.ts and docs/audit.md.
 */
import { UsageError } from './cleanup.js';
import { CookieJar, follow, request, type HttpResponse, type RequestOptions } from './http.js';
import { evaluate, score, grade, atLeast, isSessionName, GRADES, type AuditFacts, type Finding, type Grade, type SeenCookie } from './audit-rules.js';
import { analyseTokens, DEFAULT_MIN_BITS } from './token-analysis.js';
import type { CliIo } from './io.js';

export const MIN_SAMPLES = 20;

export interface AuditArgs {
  json: boolean;
  failUnder: string;
  insecure: boolean;
  login?: string;
  user?: string;
  password?: string;
  logout?: string;
  samples: number;
}

export interface AuditReport {
  url: string;
  grade: Grade;
  score: number;
  findings: Array<Pick<Finding, 'id' | 'severity' | 'cookie' | 'message'>>;
}

/** Validate the flags; every mistake is a UsageError (exit 2). */
export function parseAuditArgs(url: string, a: AuditArgs): { target: URL; floor: Grade } {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    throw new UsageError(`not a URL: ${url}`);
  }
  if (target.protocol !== 'http:' && target.protocol !== 'https:') throw new UsageError('the URL must start with http:// or https://');
  const floor = GRADES.find((g) => g === a.failUnder.toUpperCase());
  if (!floor) throw new UsageError(`--fail-under must be one of ${GRADES.join(', ')}`);
  if (a.login !== undefined && (a.user === undefined || a.password === undefined)) throw new UsageError('--login needs --user and --password');
  if (a.login === undefined && (a.user !== undefined || a.password !== undefined)) throw new UsageError('--user and --password need --login <path>');
  if (a.logout !== undefined && a.login === undefined) throw new UsageError('--logout needs --login (there is nothing to sign out of)');
  if (!Number.isInteger(a.samples) || a.samples < 0 || a.samples > 10_000 || (a.samples > 0 && a.samples < MIN_SAMPLES)) {
    throw new UsageError(`--samples must be 0 or an integer from ${MIN_SAMPLES} to 10000`);
  }
  return { target, floor };
}

// ---- HTML forms and links: enough of HTML to find a login form and the URLs a page links to ----

interface Form {
  action: URL;
  method: string;
  inputs: Array<{ name: string; type: string; value: string }>;
}

function attr(tag: string, name: string): string | undefined {
  const m = new RegExp(`\\s${name}\\s*=\\s*(?:"([^"]*)"|'([^']*)'|([^\\s>]+))`, 'i').exec(tag);
  if (!m) return undefined;
  return (m[1] ?? m[2] ?? m[3] ?? '').replace(/&amp;/g, '&').replace(/&quot;/g, '"').replace(/&#39;/g, "'");
}

function forms(page: HttpResponse): Form[] {
  const out: Form[] = [];
  for (const m of page.body.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)) {
    let action: URL;
    try {
      action = new URL(attr(m[1]!, 'action') || page.url.href, page.url);
    } catch {
      continue;
    }
    const inputs = [...m[2]!.matchAll(/<input\b[^>]*>/gi)].flatMap((i) => {
      const name = attr(i[0], 'name');
      return name ? [{ name, type: (attr(i[0], 'type') ?? 'text').toLowerCase(), value: attr(i[0], 'value') ?? '' }] : [];
    });
    out.push({ action, method: (attr(m[1]!, 'method') ?? 'get').toUpperCase(), inputs });
  }
  return out;
}

function links(page: HttpResponse): string[] {
  const out: string[] = [];
  for (const m of page.body.matchAll(/\s(?:href|src|action)\s*=\s*(?:"([^"]*)"|'([^']*)')/gi)) {
    if (out.length >= 1000) break;
    try {
      out.push(new URL(m[1] ?? m[2] ?? '', page.url).href);
    } catch {
      // A malformed link is not a finding.
    }
  }
  return out;
}

function encodeForm(fields: Array<[string, string]>): string {
  return fields.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
}

/** Fill the login form: its hidden fields (CSRF token) plus user and password. */
function loginRequest(page: HttpResponse, user: string, password: string): { url: URL; body: string } {
  const form = forms(page).find((f) => f.inputs.some((i) => i.type === 'password'));
  if (!form) return { url: page.url, body: encodeForm([['user', user], ['password', password]]) };
  const pw = form.inputs.find((i) => i.type === 'password')!;
  const named = form.inputs.find((i) => /^(user(name)?|email|login)$/i.test(i.name));
  const firstText = form.inputs.find((i) => i.type === 'text' || i.type === 'email');
  const userField = (named ?? firstText)?.name ?? 'user';
  const fields: Array<[string, string]> = [];
  for (const i of form.inputs) {
    if (i.name === userField) fields.push([i.name, user]);
    else if (i === pw) fields.push([i.name, password]);
    else if (i.type === 'hidden') fields.push([i.name, i.value]);
  }
  if (!fields.some(([k]) => k === userField)) fields.push([userField, user]);
  return { url: form.action, body: encodeForm(fields) };
}

function seen(chain: HttpResponse[]): SeenCookie[] {
  return chain.flatMap((r) =>
    r.setCookies.map((header) => ({ header, url: r.url, cacheControl: headerText(r.headers['cache-control']), date: headerText(r.headers.date) })),
  );
}

function headerText(h: string | string[] | undefined): string | undefined {
  return Array.isArray(h) ? h.join(', ') : h;
}

function jarWith(values: Map<string, string>): CookieJar {
  const j = new CookieJar();
  for (const [k, v] of values) j.values.set(k, v);
  return j;
}

/**
 * Run the audit and print its report; resolves to the exit code (0 at or above --fail-under, 1
 * below). Usage mistakes throw UsageError, network failures NetworkError (both exit 2).
 *
 * @example
 * const code = await runAudit('https://localhost:3000/', { json: true, failUnder: 'C', insecure: true, samples: 0 }, io)
 */
export async function runAudit(url: string, a: AuditArgs, io: CliIo): Promise<number> {
  const { target, floor } = parseAuditArgs(url, a);
  const http: RequestOptions = { insecure: a.insecure };
  const total = 1 + a.samples + (a.login ? 3 : 0) + (a.logout ? 2 : 0);
  let done = 0;
  const step = (label: string) => io.progress?.(++done, total, label);
  const notes: string[] = [];

  const first = await follow(target, new CookieJar(), http);
  step('page loaded');
  const final = first[first.length - 1]!;
  const facts: AuditFacts = {
    target,
    final: { url: final.url, hsts: headerText(final.headers['strict-transport-security']) },
    cookies: seen(first),
    urls: [...first.map((r) => r.url.href), ...first.flatMap((r) => (r.location ? [r.location.href] : [])), ...links(final)],
  };

  if (a.samples > 0) {
    const name = facts.cookies.map((c) => c.header.split('=')[0]!.trim()).find((n) => isSessionName(n));
    if (!name) notes.push('token entropy not checked: the page sets no session cookie to sample');
    else {
      const values: string[] = [];
      for (let i = 0; i < a.samples; i++) {
        const jar = new CookieJar();
        await follow(target, jar, http);
        const v = jar.values.get(name);
        if (v) values.push(v);
        step('sampling tokens');
      }
      if (values.length < MIN_SAMPLES) notes.push(`token entropy not checked: only ${values.length} of ${a.samples} fresh requests set ${name}`);
      else {
        const r = analyseTokens(values, DEFAULT_MIN_BITS);
        facts.entropy = { cookie: name, samples: values.length, bits: r.estimatedBits, pass: r.pass, reasons: r.reasons };
        notes.push(`token entropy: ${values.length} samples of ${name}, about ${r.estimatedBits} bits each`);
      }
    }
  } else notes.push(`token entropy not checked (pass --samples ${MIN_SAMPLES} or more)`);

  if (a.login !== undefined) await loginChecks(target, a, http, facts, notes, step);
  else notes.push('fixation and logout not checked (pass --login, --user, --password and --logout)');

  const findings = evaluate(facts);
  const s = score(findings);
  const g = grade(s);
  const report: AuditReport = {
    url: target.href,
    grade: g,
    score: s,
    findings: findings.map((f) => ({ id: f.id, severity: f.severity, ...(f.cookie !== undefined ? { cookie: f.cookie } : {}), message: f.message })),
  };
  if (a.json) io.out(JSON.stringify(report));
  else io.out(human(report, findings, notes));
  return atLeast(g, floor) ? 0 : 1;
}

async function loginChecks(target: URL, a: AuditArgs, http: RequestOptions, facts: AuditFacts, notes: string[], step: (l: string) => void): Promise<void> {
  const loginUrl = new URL(a.login!, target);
  const jar = new CookieJar();
  const page = await follow(loginUrl, jar, http);
  step('login form loaded');
  facts.cookies.push(...seen(page));
  const before = new Map(jar.values);
  const form = loginRequest(page[page.length - 1]!, a.user!, a.password!);
  const post = await follow(form.url, jar, {
    ...http,
    method: 'POST',
    body: form.body,
    // What a browser sends with a same-origin form post; CSRF defences check Origin.
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: loginUrl.origin, referer: loginUrl.href },
  });
  step('signed in');
  facts.cookies.push(...seen(post));
  facts.urls.push(...post.flatMap((r) => (r.location ? [r.location.href] : [])));
  facts.loginCookies = [...jar.values].filter(([k, v]) => before.get(k) !== v).map(([k]) => k);

  // The page the login lands on is the one that tells signed-in from signed-out.
  const landed = post[post.length - 1]!.url;
  const probe = landed.pathname !== loginUrl.pathname ? landed : target;
  const signedIn = async (values: Map<string, string>): Promise<boolean> => {
    const cookie = jarWith(values).header();
    const r = await request(probe, { ...http, headers: cookie ? { cookie } : {} });
    return r.status >= 200 && r.status < 300;
  };
  if (await signedIn(new Map())) {
    throw new UsageError(`cannot tell signed-in from signed-out: ${probe.href} answers 2xx without a session; pass the URL of a page that needs login`);
  }
  if (!(await signedIn(jar.values))) throw new UsageError(`login at ${loginUrl.pathname} did not succeed (check --user, --password and --login)`);
  const sessionCookie = [...before.keys()].find((k) => isSessionName(k)) ?? [...before.keys()][0];
  if (sessionCookie) {
    const stillWorks = await signedIn(before);
    facts.fixation = { cookie: sessionCookie, kept: stillWorks && jar.values.get(sessionCookie) === before.get(sessionCookie), stillWorks };
  } else notes.push('fixation: the login page set no cookie before login, so none can be fixed');
  step('fixation checked');

  if (a.logout === undefined) {
    notes.push('logout not checked (pass --logout <path>)');
    return;
  }
  const logoutUrl = new URL(a.logout, target);
  const old = new Map(jar.values);
  const cookieHeader = () => ({ cookie: jar.header() });
  // Prefer the site's own sign-out form (it carries the CSRF token); else POST, then GET.
  const landing = await request(probe, { ...http, headers: cookieHeader() });
  const logoutForm = forms(landing).find((f) => f.action.pathname === logoutUrl.pathname);
  const formHeaders = { 'content-type': 'application/x-www-form-urlencoded', origin: target.origin, referer: probe.href };
  if (logoutForm) {
    const body = encodeForm(logoutForm.inputs.filter((i) => i.type === 'hidden').map((i) => [i.name, i.value]));
    await follow(logoutForm.action, jar, { ...http, method: logoutForm.method === 'GET' ? 'GET' : 'POST', body, headers: formHeaders });
  } else {
    const r = await follow(logoutUrl, jar, { ...http, method: 'POST', body: '', headers: formHeaders });
    if (r[0]!.status === 404 || r[0]!.status === 405) await follow(logoutUrl, jar, http);
  }
  step('signed out');
  facts.logout = { cookie: sessionCookie ?? facts.loginCookies[0] ?? '', stillWorks: await signedIn(old) };
  step('logout checked');
}

function human(r: AuditReport, findings: Finding[], notes: string[]): string {
  const lines = [`sessionward audit ${r.url}`, `grade ${r.grade} (score ${r.score}/100)`, ''];
  if (findings.length === 0) lines.push('  no findings');
  for (const f of findings) {
    lines.push(`  ${f.severity.toUpperCase().padEnd(6)}  ${f.id}${f.cookie ? ` (${f.cookie})` : ''}${f.weight ? `  -${f.weight}` : ''}`);
    lines.push(`          ${f.message}`);
    lines.push(`          fix: ${f.fix}`);
  }
  lines.push('', ...notes.map((n) => `  note: ${n}`), '  rules and weights: docs/audit.md');
  return lines.join('\n');
}
