#!/usr/bin/env node
/**
 * The `sessionward` command line.
 *
 * Exit codes: 0 success, 1 the store failed (unreachable, missing table, ...), 2 bad usage.
 *
 * @example
 * sessionward cleanup --sqlite data/sessions.db --json
 * sessionward cleanup --postgres postgres://app@db/app --schema auth --batch 5000
 */
import { Command, CommanderError, Option } from 'commander';
import { pathToFileURL } from 'node:url';
import { realpathSync } from 'node:fs';
import { runCleanup, UsageError, type CleanupArgs } from './cleanup.js';

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
    .description('Maintenance for sessionward session stores')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s), writeOut: (s) => process.stdout.write(s) });

  let code = 0;
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
