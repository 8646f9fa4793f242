#!/usr/bin/env node
/**
 * The `sessionward` command line: one file per command beside this one; this file only wires
 * flags to them and turns their outcome into an exit code.
 *
 * Exit codes: 0 success (audit: grade at or above --fail-under; entropy and doctor: passed);
 * 1 the check failed or the store failed; 2 bad usage or a network error.
 *
 * @example
 * sessionward audit https://example.com/ --json
 * sessionward cleanup --sqlite data/sessions.db --json
 */
import { Command, CommanderError, Option } from 'commander';
import { pathToFileURL } from 'node:url';
import { readFileSync, realpathSync } from 'node:fs';
import { runCleanup, UsageError, type CleanupArgs } from './cleanup.js';
import type { AuditArgs } from './audit.js';
import type { EntropyArgs } from './entropy.js';
import type { KeygenArgs } from './keygen.js';
import type { MigrateArgs } from './migrate.js';
import type { SessionsArgs } from './sessions.js';
import type { DoctorArgs } from './doctor.js';
import { NetworkError } from './http.js';
import { DriverMissingError } from './store-url.js';
import { progressBar, type CliIo } from './io.js';

// Commands are imported when run, so `cleanup` from cron starts as fast as before.
const KEY_KINDS = ['session', 'sealed', 'jwt-hs256', 'jwt-es256', 'jwt-eddsa'];

function describe(e: unknown): string {
  // The store's messages are vague on purpose (they may reach clients); an operator at a terminal
  // needs the driver's reason, which sits in `cause`.
  const cause = (e as { cause?: { code?: unknown; message?: unknown } } | null)?.cause;
  let msg = e instanceof Error ? e.message : String(e);
  if (cause && typeof cause.message === 'string' && cause.message) msg += `: ${cause.message}`;
  if (cause && typeof cause.code === 'string') msg += ` (${cause.code})`;
  return msg;
}

/**
 * Parse `argv` (as in `process.argv`) and run; resolves to the exit code.
 *
 * @example
 * process.exitCode = await main(process.argv)
 */
export async function main(argv: string[]): Promise<number> {
  const tty = process.stdout.isTTY === true;
  const program = new Command()
    .name('sessionward')
    .description('Audit session security, test token entropy, and manage keys, stores and sessions')
    .version(packageVersion(), '-V, --version')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s), writeOut: (s) => process.stdout.write(s) });

  let code = 0;
  /** Run a command and map its outcome to an exit code (see the header). */
  const run = (json: boolean, name: string, fn: (io: CliIo) => Promise<number> | number) => async () => {
    const bar = tty && !json ? progressBar((s) => process.stdout.write(s)) : undefined;
    const io: CliIo = {
      out: (s) => {
        bar?.clear();
        process.stdout.write(`${s}\n`);
      },
      err: (s) => process.stderr.write(`${s}\n`),
      progress: bar?.update,
    };
    try {
      code = await fn(io);
    } catch (e) {
      bar?.clear();
      if (e instanceof UsageError || e instanceof NetworkError) {
        process.stderr.write(`error: ${e.message}\n`);
        code = 2;
      } else {
        process.stderr.write(`sessionward ${name} failed: ${e instanceof DriverMissingError ? e.message : describe(e)}\n`);
        if (json) process.stdout.write(`${JSON.stringify({ error: describe(e) })}\n`);
        code = 1;
      }
    }
  };
  const example = (...lines: string[]) => `\nExample:\n${lines.map((l) => `  $ ${l}`).join('\n')}\n`;

  program
    .command('audit')
    .description('grade how any site handles sessions (cookies, HSTS, URLs, fixation, logout, token entropy)')
    .argument('<url>', 'page that sets the session cookie')
    .option('--json', 'print one JSON object', false)
    .option('--fail-under <grade>', 'exit 1 when the grade is below this (A+, A, B, C, D, F)', 'C')
    .option('--insecure', 'accept a self-signed or otherwise invalid certificate', false)
    .option('--login <path>', 'login page whose form to submit (checks session fixation)')
    .option('--user <u>', 'user name for --login')
    .option('--password <p>', 'password for --login')
    .option('--logout <path>', 'sign-out path (checks that logout invalidates the session)')
    .option('--samples <n>', `fresh sessions to sample for token entropy (0, or 20 and more)`, (v) => Number(v), 0)
    .addHelpText('after', example('sessionward audit https://localhost:3000/ --insecure --login /signin --user demo@example.com --password secret --logout /signout --samples 20', 'sessionward audit https://example.com/ --json --fail-under B'))
    .exitOverride()
    .action((url: string, opts: AuditArgs) => run(opts.json, 'audit', async (io) => (await import('./audit.js')).runAudit(url, opts, io))());

  program
    .command('entropy')
    .description('test session tokens for randomness (FIPS 140-2, NIST SP 800-22 subset, per-position entropy)')
    .option('--url <url>', 'collect fresh session cookies from this URL')
    .option('--cookie <name>', 'cookie to collect (default: the first session-like cookie)')
    .option('--file <path>', 'read tokens from a file, one per line (default: stdin)')
    .option('--samples <n>', 'tokens to collect with --url', (v) => Number(v), 200)
    .option('--min-bits <n>', 'fail below this estimated entropy per token', (v) => Number(v), 64)
    .option('--insecure', 'accept a self-signed certificate', false)
    .option('--json', 'print one JSON object', false)
    .addHelpText('after', example('sessionward entropy --url https://localhost:3000/signin --insecure --samples 200', 'sessionward entropy --file tokens.txt --min-bits 128 --json'))
    .exitOverride()
    .action((opts: EntropyArgs) => run(opts.json, 'entropy', async (io) => (await import('./entropy.js')).runEntropy(opts, io, readStdin))());

  program
    .command('keygen')
    .description('generate a key in the format its option takes')
    .addOption(new Option('--kind <kind>', 'what the key is for').choices([...KEY_KINDS]).default('session'))
    .option('--id <id>', 'key id for sealed and JWT keys (default k<date><random>)')
    .option('--json', 'print one JSON object', false)
    .addHelpText('after', example('sessionward keygen', 'sessionward keygen --kind jwt-es256 --json'))
    .exitOverride()
    .action((opts: KeygenArgs) => run(opts.json, 'keygen', async (io) => (await import('./keygen.js')).runKeygen(opts, io))());

  program
    .command('keys')
    .description('key management guidance')
    .exitOverride()
    .command('rotate')
    .description('print the steps to rotate a key without logging anyone out')
    .addOption(new Option('--kind <kind>', 'which key').choices([...KEY_KINDS]).default('session'))
    .option('--json', 'print one JSON object', false)
    .addHelpText('after', example('sessionward keys rotate --kind sealed'))
    .exitOverride()
    .action((opts: { kind: string; json: boolean }) => run(opts.json, 'keys rotate', async (io) => (await import('./keygen.js')).runKeysRotate(opts, io))());

  program
    .command('migrate')
    .description('create or upgrade the PostgreSQL session table')
    .option('--postgres <url>', 'PostgreSQL connection URL')
    .option('--schema <schema>', 'schema (default public)')
    .option('--table <table>', 'table name (default sessionward_sessions)')
    .option('--json', 'print one JSON object', false)
    .addHelpText('after', example('sessionward migrate --postgres "$DATABASE_URL" --schema auth'))
    .exitOverride()
    .action((opts: MigrateArgs) => run(opts.json, 'migrate', async (io) => (await import('./migrate.js')).runMigrate(opts, io))());

  const sessions = program.command('sessions').description('list, revoke and count sessions in a store').exitOverride();
  const storeOptions = (c: Command) =>
    c
      .option('--store <url>', 'postgres://..., redis://..., rediss://... or sqlite:<file>')
      .option('--schema <schema>', 'PostgreSQL schema')
      .option('--table <table>', 'SQL table name')
      .option('--prefix <prefix>', 'Redis key prefix (default sw:)')
      .option('--json', 'print one JSON object', false)
      .exitOverride();
  for (const [action, what, user] of [
    ['list', 'list the live sessions of a user', true],
    ['revoke', 'end every session of a user', true],
    ['stats', 'count live sessions', false],
  ] as const) {
    const c = storeOptions(sessions.command(action).description(what));
    if (user) c.option('--user <id>', 'user id');
    c.addHelpText('after', example(`sessionward sessions ${action}${user ? ' --user 42' : ''} --store redis://127.0.0.1:6379 --json`));
    c.action((opts: SessionsArgs) => run(opts.json, `sessions ${action}`, async (io) => (await import('./sessions.js')).runSessions(action, opts, io))());
  }

  program
    .command('doctor')
    .description('check keys, cookie settings, store reachability and the Node version')
    .option('--config <module>', 'module exporting the session options (default export or `options`); else the environment')
    .option('--store <url>', 'store to check (default DATABASE_URL or REDIS_URL)')
    .option('--json', 'print one JSON object', false)
    .addHelpText('after', example('sessionward doctor --config ./session.config.js', 'SESSION_SECRETS=... sessionward doctor --store redis://127.0.0.1:6379 --json'))
    .exitOverride()
    .action((opts: DoctorArgs) => run(opts.json, 'doctor', async (io) => (await import('./doctor.js')).runDoctor(opts, io, process.env))());

  program
    .command('cleanup')
    .description('remove expired sessions in bounded batches')
    .addOption(new Option('--sqlite <file>', 'SQLite database file').conflicts(['postgres', 'redis']))
    .addOption(new Option('--postgres <url>', 'PostgreSQL connection URL').conflicts(['redis']))
    .addOption(new Option('--redis <url>', 'Redis URL (prunes the per-user indexes)'))
    .option('--schema <schema>', 'PostgreSQL schema (default public)')
    .option('--table <table>', 'table name (default sessionward_sessions)')
    .option('--prefix <prefix>', 'Redis key prefix (default sw:)')
    .option('--batch <n>', 'rows per batch', (v) => Number(v), 1000)
    .option('--json', 'print one JSON summary line', false)
    .addHelpText('after', example('sessionward cleanup --sqlite data/sessions.db --json'))
    .exitOverride()
    .action(async (opts: CleanupArgs) => {
      let progressShown = false;
      try {
        await runCleanup(opts, {
          out: (s) => {
            if (progressShown) process.stdout.write('\n');
            process.stdout.write(`${s}\n`);
          },
          err: (s) => process.stderr.write(`${s}\n`),
          progress:
            tty && !opts.json
              ? (s) => {
                  progressShown = true;
                  process.stdout.write(`\r${s}`);
                }
              : undefined,
        });
        code = 0;
      } catch (e) {
        if (e instanceof UsageError) {
          process.stderr.write(`error: ${e.message}\n`);
          code = 2;
        } else {
          process.stderr.write(`sessionward cleanup failed: ${describe(e)}\n`);
          if (opts.json) process.stdout.write(`${JSON.stringify({ store: storeKind(opts), error: describe(e) })}\n`);
          code = 1;
        }
      }
    });

  try {
    await program.parseAsync(argv);
    return code;
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help / --version are successes; every other parse failure is a usage error.
      return e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help' ? 0 : 2;
    }
    process.stderr.write(`sessionward: ${describe(e)}\n`);
    return 1;
  }
}

function packageVersion(): string {
  // src/cli and dist/cli both sit two levels below package.json.
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function storeKind(o: CleanupArgs): string {
  return o.sqlite !== undefined ? 'sqlite' : o.postgres !== undefined ? 'postgres' : 'redis';
}

// Run only when executed, not when imported (tests import `main`).
const entry = process.argv[1];
if (entry && import.meta.url === pathToFileURL(realpathSync(entry)).href) {
  main(process.argv).then((c) => {
    process.exitCode = c;
  });
}
