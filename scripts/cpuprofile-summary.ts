/**
 * Where the time went in a V8 CPU profile, as text: self time by function and by place (a file of
 * src/, a package, Node's internals, GC), and inclusive time of this project's functions.
 *
 *   node --cpu-prof --cpu-prof-dir=.tmp/prof --import tsx bench/run.ts \
 *     --only frameworks --scenario express-read-memory --subject sessionward --rounds 1 --duration 5
 *   npx tsx scripts/cpuprofile-summary.ts .tmp/prof/<file>.cpuprofile [top=25] [skip=0]
 *
 * `skip` leaves out the first seconds (start-up, module loading, warm-up); idle time is left out,
 * so percentages are of the time the process was busy.
 */
import { readFileSync } from 'node:fs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
interface Profile {
  nodes: Node[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

const [file, topArg, skipArg] = process.argv.slice(2);
if (!file) throw new Error('usage: cpuprofile-summary FILE.cpuprofile [top=25] [skip seconds=0]');
const top = Number(topArg ?? 25);
const skipUs = Number(skipArg ?? 0) * 1e6;
const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
// Hits from the samples after `skip` (start-up, module loading and warm-up left out), idle excluded:
// percentages are of the time the process was busy.
for (const n of p.nodes) n.hitCount = 0;
let t = 0;
p.samples.forEach((id, i) => {
  t += p.timeDeltas[i] ?? 0;
  const n = byId.get(id)!;
  if (t >= skipUs && n.callFrame.functionName !== '(idle)') n.hitCount! += 1;
});
const total = p.nodes.reduce((s, n) => s + (n.hitCount ?? 0), 0);

function place(url: string, name: string): string {
  if (!url) return name.startsWith('(') ? name : '(native)';
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1]!;
  if (url.startsWith('node:')) return 'node:' + url.slice(5).split('/')[0];
  const src = /\/(src|bench|test)\/(.*)$/.exec(url);
  return src ? `${src[1]}/${src[2]}` : url;
}
const fn = (n: Node): string => `${n.callFrame.functionName || '(anonymous)'} ${place(n.callFrame.url, n.callFrame.functionName)}:${n.callFrame.lineNumber + 1}`;

const self = new Map<string, number>();
const selfPlace = new Map<string, number>();
for (const n of p.nodes) {
  const h = n.hitCount ?? 0;
  if (!h) continue;
  self.set(fn(n), (self.get(fn(n)) ?? 0) + h);
  const pl = place(n.callFrame.url, n.callFrame.functionName);
  selfPlace.set(pl, (selfPlace.get(pl) ?? 0) + h);
}

// Inclusive time of this project's functions: hits under a node whose frame is in src/, counted
// once per function even when it recurses.
const inclusive = new Map<string, number>();
for (const n of p.nodes) {
  const h = n.hitCount ?? 0;
  if (!h) continue;
  const seen = new Set<string>();
  for (let id: number | undefined = n.id; id !== undefined; id = parent.get(id)) {
    const a = byId.get(id)!;
    if (!/\/src\//.test(a.callFrame.url)) continue;
    const k = fn(a);
    if (seen.has(k)) continue;
    seen.add(k);
    inclusive.set(k, (inclusive.get(k) ?? 0) + h);
  }
}

const pct = (h: number): string => `${((100 * h) / total).toFixed(1).padStart(5)}%`;
const print = (title: string, m: Map<string, number>, n: number): void => {
  process.stdout.write(`\n## ${title}\n`);
  for (const [k, h] of [...m].sort((a, b) => b[1] - a[1]).slice(0, n)) process.stdout.write(`${pct(h)}  ${k}\n`);
};
process.stdout.write(`${file}: ${total} busy samples after ${skipUs / 1e6} s of ${((p.endTime - p.startTime) / 1e6).toFixed(1)} s\n`);
print('self time by place', selfPlace, top);
print('self time by function', self, top);
print('inclusive time of src/ functions', inclusive, top);
