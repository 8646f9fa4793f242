/**
 * `npm run bench` — every scenario in bench/scenarios, side by side on loopback.
 *   --json          one JSON object per line on stdout (progress goes to stderr)
 *   --only a,b      run only scenario files whose name contains one of these
 *   --duration N    seconds per HTTP measurement (default 5)
 *   --connections N load-generator connections (default 10)
 */
import { readdirSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';
import type { BenchRow, Scenario } from './lib/types.js';

const args = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i === -1 ? undefined : args[i + 1];
};
const json = args.includes('--json');
const only = flag('--only')?.split(',');
const duration = Number(flag('--duration') ?? 5);
const connections = Number(flag('--connections') ?? 10);

const dir = join(dirname(fileURLToPath(import.meta.url)), 'scenarios');
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.ts'))
  .filter((f) => !only || only.some((o) => f.includes(o)))
  .sort();

const rows: BenchRow[] = [];
const report = (row: BenchRow): void => {
  rows.push(row);
  if (json) process.stdout.write(`${JSON.stringify(row)}\n`);
  else process.stderr.write(`  ${row.scenario.padEnd(28)} ${row.subject.padEnd(22)} ${Object.entries(row).filter(([k]) => k !== 'scenario' && k !== 'subject').map(([k, v]) => `${k}=${v}`).join(' ')}\n`);
};
const log = (msg: string): void => void process.stderr.write(`# ${msg}\n`);

let failed = 0;
for (const f of files) {
  log(`scenario file ${f}`);
  try {
    const mod = (await import(pathToFileURL(join(dir, f)).href)) as { default: Scenario };
    await mod.default({ duration, connections, report, log });
  } catch (e) {
    failed++;
    log(`${f} failed: ${(e as Error).stack ?? e}`);
  }
}

if (!json) {
  // Ratios of every subject to the bare baseline of its scenario, for humans.
  const byScenario = new Map<string, BenchRow[]>();
  for (const r of rows) byScenario.set(r.scenario, [...(byScenario.get(r.scenario) ?? []), r]);
  for (const [scenario, rs] of byScenario) {
    const bare = rs.find((r) => /bare$/.test(r.subject));
    if (!bare?.opsPerSec) continue;
    for (const r of rs) if (r !== bare && r.opsPerSec) log(`${scenario}: ${r.subject} = ${(r.opsPerSec / bare.opsPerSec).toFixed(2)} x ${bare.subject}`);
  }
}
process.exit(failed ? 1 : 0);
