/**
 * `npm start`: the sessionward reference app. Plain node:http(s); configuration from the
 * environment (docs/reference-app.md). Prints its URL and how to sign in.
 */
import http from 'node:http';
import https from 'node:https';
import { join, relative } from 'node:path';
import type { AddressInfo } from 'node:net';
import { createApp } from './lib/app.js';
import { loadEnvConfig, openStore, selfSignedCertificate } from './lib/config.js';
import { duration } from './views/format.js';

const log = (line: string) => console.log(line);

async function main(): Promise<void> {
  const env = loadEnvConfig(process.env);
  const opened = await openStore(process.env, env.dataDir, log);
  const auditFile = join(env.dataDir, 'audit.jsonl');
  const app = await createApp({
    dataDir: env.dataDir,
    store: opened.store,
    storeLabel: opened.label,
    storeLocation: opened.location,
    secrets: env.secrets,
    https: env.https,
    idleMs: env.idleMs,
    absoluteMs: env.absoluteMs,
    warnMs: env.warnMs,
    touchAfterMs: env.touchAfterMs,
    dbsc: env.dbsc,
    stepUpMs: env.stepUpMs,
    rateLimit: env.rateLimit,
    scryptLogN: env.scryptLogN,
    insecureTestScrypt: env.insecureTestScrypt,
    demo: env.demo,
    demoRoles: env.demoRoles,
    metricsToken: env.metricsToken,
    metricsPublic: env.metricsPublic,
    trustProxy: env.trustProxy,
    auditFile,
    log,
  });

  let tlsNote = '';
  let server: http.Server | https.Server;
  if (env.https) {
    const tls = selfSignedCertificate(env.dataDir);
    tlsNote = `self-signed certificate ${rel(tls.certFile)} (your browser will warn once)`;
    server = https.createServer({ key: tls.key, cert: tls.cert }, app.handle);
  } else {
    server = http.createServer(app.handle);
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(env.port, env.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const scheme = env.https ? 'https' : 'http';
  const url = `${scheme}://localhost:${port}`;
  // Both loopback spellings are this app; PUBLIC_ORIGIN replaces them behind a proxy.
  app.setOrigins(env.publicOrigin ? [env.publicOrigin] : [url, `${scheme}://127.0.0.1:${port}`]);
  const shown = env.publicOrigin ?? url;

  const lines = [
    '',
    '  sessionward reference app',
    '',
    `  URL         ${shown}`,
    `  Store       ${opened.label} (${opened.location})`,
    `  Cookies     ${env.https ? `production settings (__Host-sid; Secure; HttpOnly; SameSite=Lax) over HTTPS, ${tlsNote}` : 'development mode: insecureDevelopmentCookies (no Secure, no __Host-) over plain HTTP; HTTPS=1 for production settings'}`,
    `  Timeouts    idle ${duration(env.idleMs)}, absolute ${duration(env.absoluteMs)}, warning ${duration(env.warnMs)} before idle`,
    `  Secret key  ${env.secretSource}`,
    `  Client IP   ${!env.trustProxy ? 'socket address (X-Forwarded-For ignored; TRUST_PROXY to set a proxy)' : 'hops' in env.trustProxy ? `X-Forwarded-For, ${env.trustProxy.hops} trusted ${env.trustProxy.hops === 1 ? 'proxy' : 'proxies'}` : `X-Forwarded-For from ${env.trustProxy.addresses.join(', ')}`}`,
    env.demo
      ? `  Sign in     ${env.demo.email} / ${env.demo.password}   (administrator; password reset at every start)`
      : '  Sign in     demo account disabled (SW_DEMO=0)',
    `              or create an account at ${shown}/signup`,
    `  Dashboard   ${shown}/admin`,
    `  Metrics     ${shown}/metrics   ${env.metricsPublic ? '(public: METRICS_PUBLIC=1)' : env.metricsTokenGenerated ? `Authorization: Bearer ${env.metricsToken}   (new at every start; METRICS_TOKEN to fix it)` : 'Authorization: Bearer $METRICS_TOKEN'}`,
    `  Audit log   ${rel(auditFile)}`,
    '',
  ];
  log(lines.join('\n'));

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: shutting down`);
    await app.close();
    server.closeAllConnections?.();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await opened.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

function rel(p: string): string {
  const r = relative(process.cwd(), p);
  return r.startsWith('..') ? p : `./${r}`;
}

main().catch((e: unknown) => {
  console.error(`sessionward reference app failed to start: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
