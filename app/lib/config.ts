/**
 * Environment -> configuration for `npm start`. Every variable is optional; see docs/reference-app.md.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import type { SessionStore } from 'sessionward';
import { parseTrustProxy, type TrustProxy } from 'sessionward/node';
import { SqliteStore } from 'sessionward/stores/sqlite';
import { RedisStore } from 'sessionward/stores/redis';
import { PostgresStore } from 'sessionward/stores/postgres';
import { base32Encode } from './totp.js';
import { SCRYPT_MIN_LOG_N } from './passwords.js';

export interface EnvConfig {
  port: number;
  host: string;
  https: boolean;
  dataDir: string;
  secrets: string[];
  secretSource: string;
  idleMs: number;
  absoluteMs: number;
  warnMs: number;
  touchAfterMs: number | undefined;
  /** Device-bound sessions (DBSC): on by default over HTTPS (`SW_DBSC=0` turns them off); bound cookie lifetime. */
  dbsc: { boundMs: number } | null;
  stepUpMs: number;
  rateLimit: { accountMax: number; ipMax: number; windowMs: number; untrustedMax: number; signupMax: number };
  scryptLogN: number;
  insecureTestScrypt: boolean;
  demo: { email: string; password: string } | null;
  demoRoles: boolean;
  metricsToken: string | undefined;
  /** True when the token was generated at this start (print it). */
  metricsTokenGenerated: boolean;
  metricsPublic: boolean;
  trustProxy: TrustProxy | undefined;
  publicOrigin: string | undefined;
}

function num(env: NodeJS.ProcessEnv, name: string, fallback: number, min = 1): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const v = Number(raw);
  if (!Number.isFinite(v) || v < min) throw new Error(`${name} must be a number >= ${min} (got ${JSON.stringify(raw)})`);
  return v;
}

/**
 * The cookie MAC key ring: `SESSION_SECRETS` (comma-separated, newest first) or a key generated
 * once and kept in `<dataDir>/secret.key`, readable by the owner only.
 */
export function loadSecrets(env: NodeJS.ProcessEnv, dataDir: string): { secrets: string[]; source: string } {
  if (env.SESSION_SECRETS) {
    const secrets = env.SESSION_SECRETS.split(',').map((s) => s.trim()).filter(Boolean);
    for (const s of secrets) if (Buffer.byteLength(s) < 32) throw new Error('every SESSION_SECRETS entry must be at least 32 bytes');
    return { secrets, source: `SESSION_SECRETS (${secrets.length} ${secrets.length === 1 ? 'key' : 'keys'})` };
  }
  const file = join(dataDir, 'secret.key');
  if (!existsSync(file)) {
    writeFileSync(file, `${randomBytes(32).toString('base64url')}\n`, { mode: 0o600, flag: 'wx' });
  } else if ((statSync(file).mode & 0o077) !== 0) {
    // Someone loosened it: the key signs every cookie, so tighten it back.
    chmodSync(file, 0o600);
  }
  const secrets = readFileSync(file, 'utf8').split(/[\n,]/).map((s) => s.trim()).filter(Boolean);
  if (secrets.length === 0 || secrets.some((s) => Buffer.byteLength(s) < 32)) throw new Error(`${file} must hold keys of at least 32 bytes`);
  return { secrets, source: `${file} (mode 0600)` };
}

export function loadEnvConfig(env: NodeJS.ProcessEnv = process.env): EnvConfig {
  const dataDir = resolve(env.DATA_DIR ?? './data');
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const { secrets, source } = loadSecrets(env, dataDir);
  const idleMs = num(env, 'SW_IDLE_MS', 30 * 60_000);
  const demoOn = env.SW_DEMO !== '0';
  return {
    port: num(env, 'PORT', 3000, 0),
    host: env.HOST ?? '127.0.0.1',
    https: env.HTTPS === '1' || env.HTTPS === 'true',
    dataDir,
    secrets,
    secretSource: source,
    idleMs,
    absoluteMs: num(env, 'SW_ABSOLUTE_MS', 12 * 3_600_000),
    warnMs: Math.min(num(env, 'SW_WARN_MS', 60_000), idleMs),
    touchAfterMs: env.SW_TOUCH_AFTER_MS ? num(env, 'SW_TOUCH_AFTER_MS', 0) : undefined,
    // DBSC needs HTTPS: browsers register keys only on secure origins.
    dbsc: (env.HTTPS === '1' || env.HTTPS === 'true') && env.SW_DBSC !== '0' ? { boundMs: num(env, 'SW_DBSC_BOUND_MS', 10 * 60_000) } : null,
    stepUpMs: num(env, 'SW_STEP_UP_MS', 5 * 60_000),
    rateLimit: {
      accountMax: num(env, 'SW_RATE_MAX', 5),
      ipMax: num(env, 'SW_RATE_IP_MAX', 20),
      windowMs: num(env, 'SW_RATE_WINDOW_MS', 15 * 60_000),
      untrustedMax: num(env, 'SW_RATE_UNTRUSTED_MAX', 50),
      signupMax: num(env, 'SW_RATE_SIGNUP_MAX', 10),
    },
    // The OWASP minimum is the floor; createApp checks the bound again (scryptCost).
    scryptLogN: num(env, 'SW_SCRYPT_LOG_N', SCRYPT_MIN_LOG_N, SCRYPT_MIN_LOG_N),
    insecureTestScrypt: env.SW_INSECURE_TEST_SCRYPT === '1',
    demo: demoOn ? { email: env.DEMO_EMAIL ?? 'demo@example.com', password: env.DEMO_PASSWORD ?? readablePassword() } : null,
    demoRoles: demoOn,
    ...metricsAccess(env),
    trustProxy: trustProxyOf(env.TRUST_PROXY),
    publicOrigin: env.PUBLIC_ORIGIN || undefined,
  };
}

/**
 * /metrics needs a bearer token: `METRICS_TOKEN`, or one generated at each start and printed.
 * `METRICS_PUBLIC=1` opens it by name instead (a scraper on a private network).
 */
function metricsAccess(env: NodeJS.ProcessEnv): Pick<EnvConfig, 'metricsToken' | 'metricsTokenGenerated' | 'metricsPublic'> {
  const token = env.METRICS_TOKEN || undefined;
  const open = env.METRICS_PUBLIC === '1';
  if (token && open) throw new Error('set either METRICS_TOKEN or METRICS_PUBLIC=1, not both');
  if (token && Buffer.byteLength(token) < 16) throw new Error('METRICS_TOKEN must be at least 16 bytes');
  if (open) return { metricsToken: undefined, metricsTokenGenerated: false, metricsPublic: true };
  return { metricsToken: token ?? randomBytes(24).toString('base64url'), metricsTokenGenerated: !token, metricsPublic: false };
}

/** The library parses the setting; the message names the variable to fix. */
function trustProxyOf(raw: string | undefined): TrustProxy | undefined {
  try {
    return parseTrustProxy(raw);
  } catch (e) {
    throw new Error(`TRUST_PROXY: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** 20 base32 characters (100 bits) in groups of five: easy to type from a terminal. */
function readablePassword(): string {
  return base32Encode(randomBytes(13)).slice(0, 20).toLowerCase().replace(/(.{5})(?=.)/g, '$1-');
}

/** A URL without its credentials, for printing. */
function redact(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString();
  } catch {
    return '(unparsable URL)';
  }
}

export interface OpenedStore {
  store: SessionStore;
  /** What kind of store, safe to show anyone ("SQLite", "Redis", ...). */
  label: string;
  /** Where it is (a file path or a URL without credentials): for the terminal and administrators only. */
  location: string;
  close(): Promise<void>;
}

/**
 * `REDIS_CLUSTER_URLS` > `REDIS_URL` > `DATABASE_URL` > embedded SQLite in the data directory.
 */
export async function openStore(env: NodeJS.ProcessEnv, dataDir: string, log: (l: string) => void): Promise<OpenedStore> {
  if (env.REDIS_CLUSTER_URLS || env.REDIS_URL) {
    const { createClient, createCluster } = await import('redis');
    const onError = (e: unknown) => log(`redis: ${e instanceof Error ? e.message : String(e)}`);
    if (env.REDIS_CLUSTER_URLS) {
      const urls = env.REDIS_CLUSTER_URLS.split(',').map((s) => s.trim()).filter(Boolean);
      const cluster = createCluster({ rootNodes: urls.map((url) => ({ url })) });
      cluster.on('error', onError);
      await cluster.connect();
      return {
        store: new RedisStore({ client: cluster, prefix: 'swapp:' }),
        label: 'Redis Cluster',
        location: urls.map(redact).join(', '),
        close: async () => void (await cluster.close()),
      };
    }
    const client = createClient({ url: env.REDIS_URL });
    client.on('error', onError);
    await client.connect();
    return { store: new RedisStore({ client, prefix: 'swapp:' }), label: 'Redis', location: redact(env.REDIS_URL!), close: async () => void (await client.close()) };
  }
  if (env.DATABASE_URL) {
    const pg = await import('pg');
    const pool = new pg.default.Pool({ connectionString: env.DATABASE_URL, max: 10 });
    pool.on('error', (e) => log(`postgres: ${e.message}`));
    const store = new PostgresStore({ pool });
    await store.migrate();
    return { store, label: 'PostgreSQL', location: redact(env.DATABASE_URL), close: () => pool.end() };
  }
  const filename = join(dataDir, 'sessions.db');
  // The driver `new SqliteStore()` picks here (node:sqlite on Node >= 22.13: nothing compiled, else
  // better-sqlite3); the accounts file opens with the same one. Named, so a start-up shows which.
  const store = new SqliteStore({ filename });
  return { store, label: `SQLite on ${store.driver}`, location: filename, close: () => store.close() };
}

/**
 * A self-signed certificate for `HTTPS=1`, made once with openssl and kept in `<dataDir>/tls/`.
 * node:crypto can make keys but not X.509 certificates.
 */
export function selfSignedCertificate(dataDir: string): { key: Buffer; cert: Buffer; keyFile: string; certFile: string } {
  const dir = join(dataDir, 'tls');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const keyFile = join(dir, 'localhost-key.pem');
  const certFile = join(dir, 'localhost-cert.pem');
  if (!existsSync(keyFile) || !existsSync(certFile)) {
    try {
      execFileSync(
        'openssl',
        ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '30', '-subj', '/CN=localhost',
          '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1', '-keyout', keyFile, '-out', certFile],
        { stdio: 'pipe' },
      );
    } catch (e) {
      throw new Error(`HTTPS=1 needs openssl to make a self-signed certificate: ${e instanceof Error ? e.message : String(e)}`);
    }
    chmodSync(keyFile, 0o600);
  }
  return { key: readFileSync(keyFile), cert: readFileSync(certFile), keyFile, certFile };
}
