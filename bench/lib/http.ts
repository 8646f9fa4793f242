import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { BenchContext, BenchRow } from './types.js';

export interface LoadOptions {
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  duration: number;
  connections: number;
  /**
   * One cookie header per connection (cycled): models many users, each on their own session,
   * instead of every connection contending for one session.
   */
  cookiePerConnection?: string[];
  /** One cookie header per request, cycled through the pool (many users, little contention). */
  cookiePerRequest?: string[];
}

export interface LoadResult {
  /** 2xx responses per second. */
  rps: number;
  /** 2xx responses in total. */
  ok: number;
  non2xx: number;
  errors: number;
  statuses: Record<string, number>;
  /** CPU time (µs) the servers spent while the load ran: this process plus `alsoCount` ones. */
  cpuUs: number;
}

/** One figure of one subject: throughput, and CPU time per operation where it was measured. */
export interface Sample {
  opsPerSec: number;
  /** CPU µs per operation of the server side (this process and e.g. its redis-server). */
  cpuUsPerOp?: number;
}

const others = new Set<number>();
const TICK_US = 1e6 / 100; // USER_HZ is 100 on Linux

/**
 * Count the CPU time of another process (e.g. the redis-server a scenario started) as part of
 * the server side: a session store that makes Redis work harder costs that work too.
 */
export function alsoCount(pid: number): () => void {
  others.add(pid);
  return () => void others.delete(pid);
}

/** `alsoCount` for the redis-server behind `client` (its pid from INFO server). */
export async function alsoCountRedis(client: { info(section: string): Promise<string> }): Promise<() => void> {
  const pid = Number(/process_id:(\d+)/.exec(await client.info('server'))?.[1]);
  return pid ? alsoCount(pid) : () => undefined;
}

function otherCpuUs(): number {
  let total = 0;
  for (const pid of others) {
    try {
      // Fields after the parenthesised command name: utime and stime are the 12th and 13th.
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      total += (Number(f[11]) + Number(f[12])) * TICK_US;
    } catch {
      others.delete(pid);
    }
  }
  return total;
}

/** CPU µs of the server side so far: this process (all its threads) plus the ones in `alsoCount`. */
export function serverCpuUs(): number {
  const u = process.cpuUsage();
  return u.user + u.system + otherCpuUs();
}

let child: ChildProcess | undefined;
let queue: Promise<unknown> = Promise.resolve();

function loadChild(): ChildProcess {
  if (child && child.exitCode === null && child.connected) return child;
  // execArgv empty: the generator needs neither tsx nor a profiler flag given to this process.
  child = fork(fileURLToPath(new URL('./load-child.mjs', import.meta.url)), [], { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  child.unref();
  (child as unknown as { channel?: { unref(): void } }).channel?.unref();
  return child;
}

/** Stop the load generator's process (the bench runner calls this once at the end). */
export function stopLoad(): void {
  child?.kill();
  child = undefined;
}

/**
 * One autocannon run against `url`, from a child process: in the servers' own event loop the
 * generator would steal their time, and in their process it would blur their CPU accounting.
 */
export function runLoad(url: string, o: LoadOptions): Promise<LoadResult> {
  const job = queue.then(() => new Promise<LoadResult>((resolve, reject) => {
    const c = loadChild();
    let cpu0 = serverCpuUs();
    const onExit = (): void => reject(new Error('load generator exited'));
    const onMessage = (m: { type: string } & Omit<LoadResult, 'cpuUs'>): void => {
      if (m.type === 'start') {
        cpu0 = serverCpuUs();
        return;
      }
      c.off('message', onMessage);
      c.off('exit', onExit);
      const { type: _type, ...rest } = m;
      resolve({ ...rest, cpuUs: serverCpuUs() - cpu0 });
    };
    c.on('message', onMessage);
    c.once('exit', onExit);
    c.send({
      url, method: o.method ?? 'GET', headers: o.headers ?? {}, body: o.body, duration: o.duration, connections: o.connections,
      cookiePerConnection: o.cookiePerConnection, cookiePerRequest: o.cookiePerRequest,
    });
  }));
  queue = job.catch(() => undefined);
  return job;
}

/** 2xx requests per second of `url`; any non-2xx answer or socket error fails the measurement. */
export async function measureHttp(url: string, o: LoadOptions): Promise<Sample> {
  const result = await runLoad(url, o);
  if (result.non2xx > 0 || result.errors > 0) {
    throw new Error(`${url}: ${result.non2xx} non-2xx (${JSON.stringify(result.statuses)}), ${result.errors} errors during load`);
  }
  return sampleOf(result);
}

export function sampleOf(r: LoadResult): Sample {
  return { opsPerSec: Math.round(r.rps), ...(r.ok ? { cpuUsPerOp: r.cpuUs / r.ok } : {}) };
}

/** Listen on a free loopback port; resolves to the base URL. */
export function listen(server: Server): Promise<string> {
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve(`http://127.0.0.1:${port}`);
    });
  });
}

export function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections?.();
    server.close(() => resolve());
  });
}

/** Measures one subject for the given number of seconds. */
export type Measure = (seconds: number) => Promise<Sample>;

export interface Compared {
  /** Median over the rounds. */
  opsPerSec: number;
  /** Median over the rounds of the server side's CPU µs per operation. */
  cpuUsPerOp?: number;
  /** Median over the rounds of this subject's throughput over the baseline's in the same round. */
  ratio?: number;
  /** Lowest and highest per-round ratio: the spread a reader should allow for. */
  ratioMin?: number;
  ratioMax?: number;
  /**
   * Median over the rounds of the baseline's CPU per operation over this subject's: operations
   * per CPU-second relative to the baseline. What others run on the machine moves throughput
   * (we get fewer time slices) far more than it moves the CPU a request costs us.
   */
  cpuRatio?: number;
  cpuRatioMin?: number;
  cpuRatioMax?: number;
  /** Every round's CPU µs per operation, in round order: the raw figures behind the medians. */
  cpuUsRounds?: number[];
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

const r3 = (x: number): number => Math.round(x * 1000) / 1000;

/** Per-round ratios of `xs` over `base` (pairs measured seconds apart), summarised. */
function ratios(xs: number[], base: number[]): { median: number; min: number; max: number } {
  const rs = xs.map((x, i) => x / base[i]!);
  return { median: r3(median(rs)), min: r3(Math.min(...rs)), max: r3(Math.max(...rs)) };
}

/**
 * Measure several subjects side by side and report one row per subject.
 *
 * Steadiness on a shared two-core machine comes from four habits: every subject is warmed up
 * (JIT, connection pools) before anything counts; rounds are interleaved and alternate their
 * order (A B C, C B A, ...) so a drift of the machine's load hits every subject alike; ratios are
 * taken within each round (subjects measured seconds apart) and then the median over rounds,
 * which a burst of someone else's work in one window cannot move; and beside throughput the
 * server side's CPU time per request is measured, which other processes barely move at all.
 *
 * `baseline` defaults to the subject whose name ends in `bare`; `extra` adds fields to a subject's
 * row after all rounds (e.g. lost-update counts).
 */
export async function compare(
  ctx: BenchContext,
  scenario: string,
  subjects: Record<string, Measure>,
  o: { baseline?: string; rounds?: number; extra?: (subject: string) => Promise<Record<string, number>> | Record<string, number> } = {},
): Promise<Record<string, Compared>> {
  if (!ctx.wants(scenario)) return {};
  const names = Object.keys(subjects).filter((n) => ctx.wantsSubject(n));
  const baseline = o.baseline ?? names.find((n) => n.endsWith('bare'));
  const rounds = o.rounds ?? ctx.rounds;
  const warmup = Math.max(0.5, Math.min(1, ctx.duration / 2));
  for (const n of names) await subjects[n]!(warmup);
  const samples: Record<string, Sample[]> = Object.fromEntries(names.map((n) => [n, []]));
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 ? [...names].reverse() : names;
    for (const n of order) samples[n]!.push(await subjects[n]!(ctx.duration));
  }
  const ops = (n: string): number[] => samples[n]!.map((x) => x.opsPerSec);
  const cpu = (n: string): number[] | undefined => samples[n]!.every((x) => x.cpuUsPerOp) ? samples[n]!.map((x) => x.cpuUsPerOp!) : undefined;
  const out: Record<string, Compared> = {};
  for (const n of names) {
    const c: Compared = { opsPerSec: Math.round(median(ops(n))) };
    const mine = cpu(n);
    if (mine) {
      c.cpuUsPerOp = Math.round(median(mine) * 10) / 10;
      c.cpuUsRounds = mine.map((x) => Math.round(x * 10) / 10);
    }
    if (baseline && n !== baseline && samples[baseline]) {
      const t = ratios(ops(n), ops(baseline));
      Object.assign(c, { ratio: t.median, ratioMin: t.min, ratioMax: t.max });
      const theirs = cpu(baseline);
      if (mine && theirs) {
        const k = ratios(theirs, mine);
        Object.assign(c, { cpuRatio: k.median, cpuRatioMin: k.min, cpuRatioMax: k.max });
      }
    }
    out[n] = c;
    const row: BenchRow = { scenario, subject: n, ...c, rounds, ...(c.ratio !== undefined ? { baseline } : {}), ...(o.extra ? await o.extra(n) : {}) };
    ctx.report(row);
  }
  return out;
}
