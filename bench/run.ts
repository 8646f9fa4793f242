/**
 * `npm run bench` — every scenario in bench/scenarios, side by side on loopback.
 *   --json          one JSON object per line on stdout (progress goes to stderr)
 *   --out FILE      also write those JSON lines to FILE (input of `npm run bench:report`)
 *   --only a,b      run only scenario files whose name contains one of these
 *   --scenario a,b  report only scenarios (rows) whose name contains one of these
 *   --subject a,b   measure only subjects whose name contains one of these (e.g. to profile one
 *                   server: `node --cpu-prof --import tsx bench/run.ts --scenario X --subject Y`)
 *   --duration N    seconds per HTTP measurement (default 3)
 *   --rounds N      interleaved rounds per comparison, the median is reported (default 5)
 *   --connections N load-generator connections (default 10)
 */
import { readdirSync, writeFileSync, appendFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';
import { cpus } from 'node:os';
import type { BenchRow, Scenario } from './lib/types.js';
import { stopLoad } from './lib/http.js';

const args = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i === -1 ? undefined : args[i + 1];
};
const list = (name: string): string[] | undefined => flag(name)?.split(',').filter(Boolean);
const json = args.includes('--json');
const out = flag('--out');
const only = list('--only');
const scenarios = list('--scenario');
const subjects = list('--subject');
const duration = Number(flag('--duration') ?? 3);
const rounds = Number(flag('--rounds') ?? 5);
const connections = Number(flag('--connections') ?? 10);

const dir = join(dirname(fileURLToPath(import.meta.url)), 'scenarios');
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.ts'))
  .filter((f) => !only || only.some((o) => f.includes(o)))
  .sort();

const log = (msg: string): void => void process.stderr.write(`# ${msg}\n`);
if (out) writeFileSync(out, '');
const meta: BenchRow = {
  scenario: 'meta', subject: 'machine', node: process.version, cpus: cpus().length, cpu: cpus()[0]?.model ?? 'unknown',
  duration, rounds, connections, date: new Date().toISOString(),
};
const emit = (row: BenchRow): void => {
  if (json) process.stdout.write(`${JSON.stringify(row)}\n`);
  else process.stderr.write(`  ${row.scenario.padEnd(30)} ${row.subject.padEnd(28)} ${Object.entries(row).filter(([k]) => k !== 'scenario' && k !== 'subject').map(([k, v]) => `${k}=${v}`).join(' ')}\n`);
  if (out) appendFileSync(out, `${JSON.stringify(row)}\n`);
};
emit(meta);

const ctx = {
  duration,
  connections,
  rounds,
  wants: (s: string) => !scenarios || scenarios.some((x) => s.includes(x)),
  wantsSubject: (s: string) => !subjects || subjects.some((x) => s.includes(x)),
  report: emit,
  log,
};

let failed = 0;
for (const f of files) {
  log(`scenario file ${f}`);
  try {
    const mod = (await import(pathToFileURL(join(dir, f)).href)) as { default: Scenario };
    await mod.default(ctx);
  } catch (e) {
    failed++;
    log(`${f} failed: ${(e as Error).stack ?? e}`);
  }
}
stopLoad();
process.exit(failed ? 1 : 0);
