/**
 * A small HTTP client for the audit and entropy commands, on node:http(s) so the CLI needs no
 * dependency: bounded headers, body and time, no connection reuse, redirects followed by hand so
 * every Set-Cookie along the way is seen, and errors an operator can act on.
 */
import http from 'node:http';
import https from 'node:https';
import { parseSetCookie } from '../cookie/index.js';

/** Network failures (unreachable, TLS, redirect loop, oversized response): exit code 2. */
export class NetworkError extends Error {}

export interface HttpResponse {
  url: URL;
  method: string;
  status: number;
  headers: http.IncomingHttpHeaders;
  setCookies: string[];
  location?: URL;
  body: string;
}

export interface RequestOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  /** Accept any certificate (self-signed, expired, wrong name). */
  insecure?: boolean;
  timeoutMs?: number;
}

export const MAX_HEADER_BYTES = 64 * 1024;
const MAX_BODY_BYTES = 2 * 1024 * 1024;
export const MAX_REDIRECTS = 10;

const TLS_CODES = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|ERR_SSL|EPROTO/;

function explain(e: unknown, url: URL): NetworkError {
  const code = String((e as { code?: unknown } | null)?.code ?? '');
  const msg = e instanceof Error ? e.message : String(e);
  if (code === 'HPE_HEADER_OVERFLOW') return new NetworkError(`${url.origin} sent response headers larger than ${MAX_HEADER_BYTES / 1024} KiB`);
  if (TLS_CODES.test(code)) {
    return new NetworkError(`TLS error from ${url.origin}: ${msg} (${code})${url.protocol === 'https:' ? '; pass --insecure to accept a self-signed certificate' : ''}`);
  }
  return new NetworkError(`cannot reach ${url.origin}: ${msg}${code ? ` (${code})` : ''}`);
}

/**
 * One request, no redirects followed.
 *
 * @example
 * const r = await request(new URL('https://example.com/'), { insecure: true })
 */
export function request(url: URL, o: RequestOptions = {}): Promise<HttpResponse> {
  const method = o.method ?? 'GET';
  const mod = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.request(
      url,
      {
        method,
        headers: { 'user-agent': 'sessionward-audit', accept: 'text/html,*/*', ...o.headers },
        agent: false,
        maxHeaderSize: MAX_HEADER_BYTES,
        ...(url.protocol === 'https:' ? { rejectUnauthorized: !o.insecure } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          // Keep only the first MAX_BODY_BYTES: enough for a login form or a page of links.
          if (size < MAX_BODY_BYTES) chunks.push(c.subarray(0, MAX_BODY_BYTES - size));
          size += c.length;
          if (size > MAX_BODY_BYTES * 4) res.destroy();
        });
        const done = () => {
          const sc = res.headers['set-cookie'] ?? [];
          let location: URL | undefined;
          try {
            if (res.headers.location) location = new URL(res.headers.location, url);
          } catch {
            location = undefined;
          }
          resolve({ url, method, status: res.statusCode ?? 0, headers: res.headers, setCookies: sc, location, body: Buffer.concat(chunks).toString('utf8') });
        };
        res.on('end', done);
        res.on('close', done);
        res.on('error', () => done());
      },
    );
    req.setTimeout(o.timeoutMs ?? 15_000, () => req.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })));
    req.on('error', (e) => reject(explain(e, url)));
    req.end(o.body);
  });
}

/** Cookies by name, as a browser on one origin would keep them (scoping is not modelled). */
export class CookieJar {
  readonly values = new Map<string, string>();

  apply(setCookies: readonly string[]): void {
    for (const sc of setCookies) {
      const c = parseSetCookie(sc);
      if (!c) continue;
      if (isDeletion(c.attributes)) this.values.delete(c.name);
      else this.values.set(c.name, c.value);
    }
  }

  header(): string {
    return [...this.values].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  clone(): CookieJar {
    const j = new CookieJar();
    for (const [k, v] of this.values) j.values.set(k, v);
    return j;
  }
}

/** A Set-Cookie that removes the cookie (Max-Age <= 0 or Expires in the past). */
export function isDeletion(a: Record<string, string | true>): boolean {
  const ma = a['max-age'];
  if (typeof ma === 'string' && /^-?\d+$/.test(ma)) return Number(ma) <= 0;
  const ex = a.expires;
  if (typeof ex === 'string') {
    const t = Date.parse(ex);
    return Number.isFinite(t) && t <= Date.now();
  }
  return false;
}

/**
 * Request and follow redirects (at most MAX_REDIRECTS), carrying and updating the jar. Returns
 * every response, the last one final. 303 (and 301/302 after a POST) turn into a GET.
 */
export async function follow(url: URL, jar: CookieJar, o: RequestOptions = {}): Promise<HttpResponse[]> {
  const chain: HttpResponse[] = [];
  let cur = url;
  let opts = o;
  for (;;) {
    const cookie = jar.header();
    const r = await request(cur, { ...opts, headers: { ...opts.headers, ...(cookie ? { cookie } : {}) } });
    jar.apply(r.setCookies);
    chain.push(r);
    if (r.status < 300 || r.status >= 400 || !r.location) return chain;
    if (chain.length > MAX_REDIRECTS) throw new NetworkError(`more than ${MAX_REDIRECTS} redirects starting at ${url.href} (a redirect loop?)`);
    if (r.location.protocol !== 'http:' && r.location.protocol !== 'https:') return chain;
    cur = r.location;
    if (r.status === 303 || ((r.status === 301 || r.status === 302) && opts.method && opts.method !== 'GET')) {
      opts = { insecure: o.insecure, timeoutMs: o.timeoutMs, headers: o.headers };
    }
  }
}
