/**
 * Regenerates the figures of docs/benchmarks.md and the chart docs/benchmarks.svg from the JSON
 * lines of one bench run, so the published table is never typed by hand:
 *
 *   npm run bench -- --out bench/results.jsonl     # the whole run, ~15 minutes
 *   npm run bench:report                            # or: npx tsx scripts/bench-report.ts FILE
 *
 * The goals are written down here, once; the table says for each whether this run meets it.
 */
import { readFileSync, writeFileSync } from 'node:fs';

interface Row {
  scenario: string;
  subject: string;
  opsPerSec?: number;
  cpuUsPerOp?: number;
  ratio?: number;
  ratioMin?: number;
  ratioMax?: number;
  cpuRatio?: number;
  cpuRatioMin?: number;
  cpuRatioMax?: number;
  [k: string]: unknown;
}

/** A goal: `subject` of `scenario` over `over` (the scenario's baseline unless named) must reach `min`. */
interface Check {
  over?: string;
  min: number;
}
interface Goal {
  label: string;
  scenario: string;
  subject?: string;
  /** Shown beside, relative to the same baseline: the best-known alternative. */
  peer?: string;
  checks: Check[];
  /** For rows that are counts, not ratios (bytes, lost updates). */
  field?: { name: string; max: number };
}

const GOALS: Goal[] = [
  { label: 'Express, memory, read / bare Express', scenario: 'express-read-memory', peer: 'express-session', checks: [{ min: 0.85 }] },
  { label: 'Express, memory, read, 10 keys / bare Express', scenario: 'express-read-memory-10keys', peer: 'express-session', checks: [{ min: 0.85 }] },
  { label: 'Express, Redis, read / bare Express', scenario: 'express-read-redis', peer: 'express-session', checks: [{ min: 0.85 }, { over: 'express-session', min: 1.5 }] },
  { label: 'Express, Redis, write / bare Express', scenario: 'express-write-redis', peer: 'express-session', checks: [{ min: 0.8 }] },
  { label: 'Express, Redis, write, 10 keys / bare Express', scenario: 'express-write-redis-10keys', peer: 'express-session', checks: [{ over: 'express-session', min: 1 }] },
  // No throughput goal against express-session here: it is fast because it drops most of the
  // updates (its `lost`); the issue asks for zero lost with the peer's figure beside it.
  { label: 'Express, Redis, 32 writers on one session / bare', scenario: 'express-contended-write-redis', peer: 'express-session', checks: [], field: { name: 'lost', max: 0 } },
  { label: 'Fastify, Redis, read / bare Fastify', scenario: 'fastify-read-redis', peer: '@fastify/session', checks: [{ min: 0.85 }] },
  { label: 'Fastify, Redis, write / bare Fastify', scenario: 'fastify-write-redis', peer: '@fastify/session', checks: [{ over: '@fastify/session', min: 1 }] },
  { label: 'node:http, memory, read / bare', scenario: 'http-read-memory', checks: [{ min: 0.9 }] },
  { label: 'node:http, memory, write / bare', scenario: 'http-write-memory', checks: [{ min: 0.8 }] },
  { label: 'node:http, Redis, read / one-GET floor', scenario: 'http-read-redis', peer: 'floor', checks: [{ over: 'floor', min: 0.9 }] },
  { label: 'node:http, Redis, write / bare', scenario: 'http-write-redis', peer: 'floor', checks: [{ min: 0.7 }] },
  { label: 'node:http, SQLite, read / bare', scenario: 'http-read-sqlite', peer: 'floor', checks: [{ min: 0.8 }] },
  { label: 'node:http, SQLite, write / bare', scenario: 'http-write-sqlite', peer: 'floor', checks: [] },
  { label: 'node:http, Redis, 32 writers on one session / bare', scenario: 'contended-write-redis', checks: [], field: { name: 'lost', max: 0 } },
  { label: 'node:http, memory, read with metrics / without (issue 16)', scenario: 'http-read-memory-metrics', subject: 'sessionward+metrics', checks: [{ min: 0.97 }] },
  { label: 'sealed seal+unseal / iron-session', scenario: 'seal-unseal', checks: [{ min: 50 }] },
  { label: 'sealed read / bare', scenario: 'http-read-sealed', checks: [{ min: 0.85 }] },
  { label: 'JWT verify HS256 / fast-jwt', scenario: 'jwt-verify-hs256', peer: 'jose', checks: [{ min: 1 }] },
  { label: 'JWT verify ES256 / fast-jwt', scenario: 'jwt-verify-es256', peer: 'jose', checks: [{ min: 0.9 }, { over: 'jose', min: 1 }] },
  { label: 'Redis list-by-user, 10k / 1M sessions', scenario: 'redis-list-user-sessions', subject: 'sessionward-10k', checks: [{ min: 0.83 }] },
  { label: 'Redis bytes per empty session', scenario: 'redis-bytes-per-session', checks: [], field: { name: 'bytes', max: 200 } },
];

/** The adapters of the chart: each beside its bare framework (1.0) and its best-known peer. */
const CHART = [
  'express-read-memory', 'express-read-memory-10keys', 'express-read-redis', 'express-write-redis', 'express-write-redis-10keys',
  'express-contended-write-redis', 'fastify-read-redis', 'fastify-write-redis',
  'http-read-memory', 'http-write-memory', 'http-read-redis', 'http-write-redis', 'http-read-sqlite', 'http-write-sqlite',
  'contended-write-memory', 'contended-write-redis', 'contended-write-sqlite', 'http-read-sealed',
];

const file = process.argv[2] ?? 'bench/results.jsonl';
const rows: Row[] = readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Row);
const meta = rows.find((r) => r.scenario === 'meta');
const find = (scenario: string, subject = 'sessionward'): Row | undefined => rows.find((r) => r.scenario === scenario && r.subject === subject);

type Metric = 'ratio' | 'cpuRatio';
/** Ratio of `subject` over `over` in `scenario` (over the baseline when `over` is not given). */
function ratioOf(metric: Metric, scenario: string, subject: string, over?: string): number | undefined {
  const r = find(scenario, subject)?.[metric];
  if (typeof r !== 'number') return undefined;
  if (!over) return r;
  const o = find(scenario, over)?.[metric];
  return typeof o === 'number' ? r / o : undefined;
}

const f2 = (x: number | undefined): string => (x === undefined ? '–' : x >= 10 ? `${x.toFixed(0)}×` : x.toFixed(2));
const spread = (r: Row | undefined, metric: Metric): string => {
  const lo = r?.[`${metric}Min`];
  const hi = r?.[`${metric}Max`];
  return typeof lo === 'number' && typeof hi === 'number' ? ` (${f2(lo)}–${f2(hi)})` : '';
};
const checkText = (c: Check): string => `≥ ${c.min >= 10 ? `${c.min}×` : c.min}${c.over ? ` × ${c.over}` : ''}`;

function goalsTable(): string {
  const out = [
    '| goal | sessionward, per CPU-second (spread) | sessionward, throughput (spread) | peer, floor (per CPU-s / throughput) | goal | met? |',
    '|---|---:|---:|---|---|---|',
  ];
  for (const g of GOALS) {
    const subject = g.subject ?? 'sessionward';
    const row = find(g.scenario, subject);
    if (!row) {
      out.push(`| ${g.label} | not measured | | | ${g.checks.map(checkText).join(', ')} | |`);
      continue;
    }
    // Judged on requests per CPU-second (steady on a shared machine, see Method); throughput
    // where no CPU figure exists (micro-benchmarks of libraries that do their work off-thread).
    const verdicts: boolean[] = [];
    // A missed goal that the run's own best round reaches is reported as such: one run cannot
    // tell it from noise (docs/benchmarks.md, How steady one run is).
    let withinSpread = false;
    for (const c of g.checks) {
      const v = ratioOf('cpuRatio', g.scenario, subject, c.over) ?? ratioOf('ratio', g.scenario, subject, c.over);
      if (v === undefined) continue;
      verdicts.push(v >= c.min);
      const best = c.over ? undefined : (row.cpuRatioMax ?? row.ratioMax);
      if (v < c.min && typeof best === 'number' && best >= c.min) withinSpread = true;
    }
    let fieldText = '';
    if (g.field) {
      const v = row[g.field.name];
      if (typeof v === 'number') {
        verdicts.push(v <= g.field.max);
        fieldText = ` ${g.field.name} ${v}`;
      }
    }
    const peer = g.peer ? find(g.scenario, g.peer) : undefined;
    // The floor server (where the scenario has one) beside the peer: no server on that store can do better.
    const floor = g.peer !== 'floor' ? find(g.scenario, 'floor') : undefined;
    const floorText = floor ? `${peer ? '; ' : ''}floor ${f2(floor.cpuRatio)} / ${f2(floor.ratio)}` : '';
    const peerText = (peer ? `${g.peer} ${f2(peer.cpuRatio)} / ${f2(peer.ratio)}${typeof peer.lost === 'number' ? `, lost ${peer.lost}` : ''}` : '') + floorText || '–';
    const goal = [...g.checks.map(checkText), ...(g.field ? [`${g.field.name} ≤ ${g.field.max}`] : [])].join(', ') || '–';
    const met = verdicts.length === 0 ? '–' : verdicts.every(Boolean) ? '**yes**' : withinSpread && verdicts.filter((x) => !x).length === 1 ? 'no (within the spread)' : 'no';
    out.push(`| ${g.label} | ${f2(row.cpuRatio)}${spread(row, 'cpuRatio')}${fieldText} | ${f2(row.ratio)}${spread(row, 'ratio')} | ${peerText} | ${goal} | ${met} |`);
  }
  return out.join('\n');
}

function rowsTable(): string {
  const out = ['| scenario | subject | ops/s | CPU µs/op | throughput ratio | per CPU-s ratio | other |', '|---|---|---:|---:|---:|---:|---|'];
  const known = new Set(['scenario', 'subject', 'opsPerSec', 'cpuUsPerOp', 'cpuUsRounds', 'ratio', 'ratioMin', 'ratioMax', 'cpuRatio', 'cpuRatioMin', 'cpuRatioMax', 'rounds', 'baseline']);
  for (const r of rows) {
    if (r.scenario === 'meta') continue;
    const other = Object.entries(r).filter(([k]) => !known.has(k)).map(([k, v]) => `${k} ${String(v)}`).join(', ');
    out.push(`| ${r.scenario} | ${r.subject} | ${r.opsPerSec ?? ''} | ${r.cpuUsPerOp ?? ''} | ${r.ratio !== undefined ? f2(r.ratio) + spread(r, 'ratio') : ''} | ${r.cpuRatio !== undefined ? f2(r.cpuRatio) + spread(r, 'cpuRatio') : ''} | ${other} |`);
  }
  return out.join('\n');
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Horizontal bars: per scenario the bare framework (1.0), sessionward, peer and floor, per CPU-second. */
function chart(metric: Metric): string {
  const groups = CHART.map((scenario) => {
    const rs = rows.filter((r) => r.scenario === scenario);
    const base = rs.find((r) => r.ratio === undefined && r.opsPerSec !== undefined);
    const bars = rs.filter((r) => r !== base && typeof r[metric] === 'number').map((r) => ({ subject: r.subject, v: r[metric] as number }));
    return { scenario, base: base?.subject ?? 'bare', bars };
  }).filter((g) => g.bars.length);
  const colour = (s: string): string => (s === 'sessionward' ? '#2563eb' : s === 'floor' ? '#16a34a' : '#f97316');
  const W = 760, left = 230, bar = 12, gap = 3, pad = 14;
  const max = Math.max(1.2, ...groups.flatMap((g) => g.bars.map((b) => b.v)));
  const x = (v: number): number => left + ((W - left - 60) * v) / max;
  let y = 56;
  const parts: string[] = [];
  for (const g of groups) {
    const all = [{ subject: g.base, v: 1 }, ...g.bars];
    const h = all.length * (bar + gap);
    parts.push(`<text x="8" y="${y + h / 2 + 4}" font-size="12" font-weight="600">${esc(g.scenario)}</text>`);
    for (const b of all) {
      const c = b.subject === g.base ? '#9ca3af' : colour(b.subject);
      parts.push(`<rect x="${left}" y="${y}" width="${(x(b.v) - left).toFixed(1)}" height="${bar}" fill="${c}"><title>${esc(`${b.subject}: ${b.v}`)}</title></rect>`);
      parts.push(`<text x="${(x(b.v) + 4).toFixed(1)}" y="${y + bar - 2}" font-size="10">${esc(b.subject)} ${b.v.toFixed(2)}</text>`);
      y += bar + gap;
    }
    y += pad;
  }
  const ticks = [0, 0.5, 1].map((t) => `<line x1="${x(t)}" y1="46" x2="${x(t)}" y2="${y}" stroke="#d1d5db" stroke-dasharray="${t === 1 ? '0' : '3 3'}"/><text x="${x(t)}" y="44" font-size="10" text-anchor="middle">${t}</text>`);
  const title = metric === 'ratio' ? 'throughput relative to the bare framework (1.0)' : 'requests per CPU-second relative to the bare framework (1.0)';
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${y + 10}" font-family="sans-serif">
<rect width="100%" height="100%" fill="#fff"/>
<text x="8" y="16" font-size="13" font-weight="600">${esc(title)}</text>
<text x="8" y="32" font-size="11">grey: bare framework · blue: sessionward · orange: best-known peer · green: floor server</text>
${ticks.join('\n')}
${parts.join('\n')}
</svg>
`;
}

function splice(doc: string, name: string, content: string): string {
  const start = `<!-- bench:${name} -->`;
  const end = `<!-- /bench:${name} -->`;
  const i = doc.indexOf(start);
  const j = doc.indexOf(end);
  if (i === -1 || j === -1) throw new Error(`docs/benchmarks.md lacks the ${start} ... ${end} markers`);
  return `${doc.slice(0, i + start.length)}\n${content}\n${doc.slice(j)}`;
}

const machine = meta
  ? `Node ${String(meta.node)}, ${String(meta.cpus)} × ${String(meta.cpu)}, ${String(meta.duration)} s × ${String(meta.rounds)} interleaved rounds (median), ${String(meta.connections)} connections, ${String(meta.date).slice(0, 10)}.`
  : '';
let doc = readFileSync('docs/benchmarks.md', 'utf8');
doc = splice(doc, 'machine', machine);
doc = splice(doc, 'goals', goalsTable());
doc = splice(doc, 'rows', rowsTable());
writeFileSync('docs/benchmarks.md', doc);
writeFileSync('docs/benchmarks.svg', chart('cpuRatio'));
writeFileSync('docs/benchmarks-throughput.svg', chart('ratio'));
process.stderr.write(`docs/benchmarks.md, docs/benchmarks.svg and docs/benchmarks-throughput.svg regenerated from ${file}\n`);
