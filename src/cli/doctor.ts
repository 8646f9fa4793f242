/**
 * `sessionward doctor`: check a configuration before it meets traffic. Reads the options from a
 * module (`--config`, its default export or `options`) or from the environment
 * (SESSION_SECRETS, DATABASE_URL, REDIS_URL), and checks key lengths, cookie settings, that the
 * store answers, and the Node version.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { CliIo } from './io.js';
import { UsageError } from './cleanup.js';
import { openStoreUrl } from './store-url.js';
import type { SessionManagerOptions } from '../core/options.js';
import type { SessionStore } from '../stores/types.js';

export interface DoctorArgs {
  config?: string;
  store?: string;
  json: boolean;
}

export interface Check {
  name: string;
  status: 'ok' | 'warn' | 'fail';
  detail: string;
}

const MIN_SECRET_BYTES = 32;

async function loadConfig(file: string): Promise<Partial<SessionManagerOptions>> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(resolve(file)).href)) as Record<string, unknown>;
  } catch (e) {
    throw new UsageError(`cannot load ${file}: ${e instanceof Error ? e.message : String(e)}`);
  }
  const cfg = mod.default ?? mod.options;
  if (!cfg || typeof cfg !== 'object') throw new UsageError(`${file} must export the session options (export default { store, secrets, cookie })`);
  return cfg as Partial<SessionManagerOptions>;
}

function secretsCheck(secrets: ReadonlyArray<string | Uint8Array> | undefined, from: string): Check {
  if (!secrets || secrets.length === 0) return { name: 'secrets', status: 'warn', detail: `no secrets in ${from}: cookies are unsigned, so a forged token reaches the store (sessionward keygen --kind session)` };
  const short = secrets.map((s, i) => [i, typeof s === 'string' ? Buffer.byteLength(s) : s.length] as const).filter(([, n]) => n < MIN_SECRET_BYTES);
  if (short.length) return { name: 'secrets', status: 'fail', detail: `secret(s) #${short.map(([i, n]) => `${i} (${n} bytes)`).join(', #')} shorter than ${MIN_SECRET_BYTES} bytes` };
  return { name: 'secrets', status: 'ok', detail: `${secrets.length} secret(s), each at least ${MIN_SECRET_BYTES} bytes` };
}

function cookieCheck(o: Partial<SessionManagerOptions>): Check {
  const c = o.cookie ?? {};
  const problems: string[] = [];
  let status: Check['status'] = 'ok';
  if (c.insecureDevelopmentCookies) {
    problems.push('insecureDevelopmentCookies is on (no Secure, no __Host-): development only');
    status = 'warn';
  }
  if (c.sameSite === 'None') {
    problems.push('SameSite=None sends the cookie on cross-site requests');
    status = 'warn';
  }
  if (c.domain) {
    problems.push(`Domain=${c.domain} shares the cookie with every subdomain`);
    status = 'warn';
  }
  if (c.maxAge !== undefined && c.maxAge > 30 * 86_400_000) {
    problems.push(`maxAge of ${Math.round(c.maxAge / 86_400_000)} days keeps a persistent session cookie over 30 days`);
    status = 'warn';
  }
  return { name: 'cookie', status, detail: problems.length ? problems.join('; ') : `${c.name ?? '__Host-sid'}; Secure; HttpOnly; SameSite=${c.sameSite ?? 'Lax'}` };
}

async function storeCheck(store: SessionStore | undefined, url: string | undefined): Promise<Check> {
  if (!store && !url) return { name: 'store', status: 'warn', detail: 'no store to check (pass --store <url>, or set DATABASE_URL or REDIS_URL)' };
  let close = async () => undefined as void;
  try {
    let s = store;
    if (!s) {
      const o = await openStoreUrl(url!);
      s = o.store;
      close = o.close;
    }
    const t = performance.now();
    await s.get('sessionward-doctor-probe', Date.now());
    return { name: 'store', status: 'ok', detail: `${s.name} answered in ${Math.round(performance.now() - t)} ms` };
  } catch (e) {
    const cause = (e as { cause?: { message?: string } }).cause?.message;
    return { name: 'store', status: 'fail', detail: `${e instanceof Error ? e.message : String(e)}${cause ? `: ${cause}` : ''}` };
  } finally {
    await close().catch(() => undefined);
  }
}

/**
 * @example
 * const code = await runDoctor({ config: 'session.config.js', json: true }, io, process.env)
 */
export async function runDoctor(a: DoctorArgs, io: CliIo, env: NodeJS.ProcessEnv): Promise<number> {
  const checks: Check[] = [];
  const major = Number(process.versions.node.split('.')[0]);
  checks.push({ name: 'node', status: major >= 20 ? 'ok' : 'fail', detail: `Node ${process.versions.node}${major >= 20 ? '' : ' (sessionward needs 20 or newer)'}` });
  if (a.config !== undefined) {
    const cfg = await loadConfig(a.config);
    checks.push(secretsCheck(cfg.secrets, a.config), cookieCheck(cfg), await storeCheck(cfg.store, a.store));
  } else {
    const secrets = env.SESSION_SECRETS ? env.SESSION_SECRETS.split(',').map((s) => s.trim()).filter(Boolean) : undefined;
    checks.push(secretsCheck(secrets, 'SESSION_SECRETS'), await storeCheck(undefined, a.store ?? (env.DATABASE_URL || env.REDIS_URL || undefined)));
  }
  const failed = checks.some((c) => c.status === 'fail');
  if (a.json) io.out(JSON.stringify({ ok: !failed, checks }));
  else io.out(checks.map((c) => `${c.status.toUpperCase().padEnd(4)}  ${c.name.padEnd(8)} ${c.detail}`).join('\n'));
  return failed ? 1 : 0;
}
