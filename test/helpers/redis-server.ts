/**
 * Test/bench harness: real redis-server processes on free loopback ports with temp dirs.
 * Every process started here is killed on stop(), and also when the worker exits (even after a
 * failed test), so nothing outlives the run.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const p of live) {
    try {
      p.kill('SIGTERM');
    } catch {
      /* already gone */
    }
  }
});

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** A free port whose cluster-bus twin (port + 10000) is free too. */
export async function freePort(): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const port = 20000 + Math.floor(Math.random() * 25000);
    if ((await portFree(port)) && (await portFree(port + 10000))) return port;
  }
  throw new Error('no free port');
}

/** Run redis-cli against a port; resolves with trimmed stdout. */
export function cli(port: number, ...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { timeout: 60_000, maxBuffer: 64 << 20 }, (err, stdout) => {
      if (err) reject(err);
      else resolve(stdout.trim());
    });
  });
}

async function waitPortClosed(port: number): Promise<void> {
  for (let i = 0; i < 200 && !(await portFree(port)); i++) await sleep(25);
}

export interface RedisProcess {
  port: number;
  dir: string;
  pid(): number | undefined;
  /** SIGKILL, no shutdown. */
  kill9(): Promise<void>;
  /** Start again on the same port and dir. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export interface StartOptions {
  port?: number;
  cluster?: boolean;
  extraArgs?: string[];
}

export async function startRedis(opts: StartOptions = {}): Promise<RedisProcess> {
  const port = opts.port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), 'sw-redis-'));
  let proc: ChildProcess | undefined;

  const launch = async (): Promise<void> => {
    const args = [
      '--port', String(port), '--bind', '127.0.0.1', '--dir', dir,
      '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--protected-mode', 'no',
      '--loglevel', 'warning', '--logfile', join(dir, 'redis.log'),
      // Redis 7 delays a diskless full sync by 5 s by default; replicas should be usable at once.
      '--repl-diskless-sync-delay', '0',
    ];
    if (opts.cluster) {
      args.push('--cluster-enabled', 'yes', '--cluster-config-file', join(dir, 'nodes.conf'), '--cluster-node-timeout', '1000');
    }
    args.push(...(opts.extraArgs ?? []));
    // A tiny shell watchdog owns redis-server and kills it when this Node process disappears
    // (a worker torn down by a timeout never runs 'exit' handlers), so no server outlives a run.
    const watchdog = `redis-server "$@" & r=$!; trap 'kill -9 $r 2>/dev/null; wait $r; exit 0' TERM; ` +
      `while kill -0 ${process.pid} 2>/dev/null && kill -0 $r 2>/dev/null; do sleep 0.2; done; kill -9 $r 2>/dev/null; wait $r`;
    const p = spawn('sh', ['-c', watchdog, 'sh', ...args], { stdio: 'ignore' });
    proc = p;
    live.add(p);
    p.once('exit', () => live.delete(p));
    for (let i = 0; i < 200; i++) {
      if (p.exitCode !== null) throw new Error(`redis-server on ${port} exited with ${p.exitCode}`);
      try {
        if ((await cli(port, 'PING')) === 'PONG') return;
      } catch {
        /* not up yet */
      }
      await sleep(25);
    }
    throw new Error(`redis-server on ${port} did not start`);
  };

  const killNow = async (signal: NodeJS.Signals): Promise<void> => {
    const p = proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const gone = new Promise<void>((r) => p.once('exit', () => r()));
    // SIGTERM to the watchdog makes it SIGKILL redis-server (a real kill -9, no shutdown save).
    p.kill(signal === 'SIGKILL' ? 'SIGTERM' : signal);
    await gone;
    await waitPortClosed(port);
  };

  await launch();
  return {
    port,
    dir,
    pid: () => (proc && proc.exitCode === null && proc.signalCode === null ? proc.pid : undefined),
    kill9: () => killNow('SIGKILL'),
    restart: launch,
    stop: async () => {
      await killNow('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Every master has one replica that finished its sync (so WAIT 1 can be acknowledged). */
export async function waitReplicasOnline(masters: number[], timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (const port of masters) {
    while (!/slave0:.*state=online/.test(await cli(port, 'INFO', 'replication'))) {
      if (Date.now() > end) throw new Error(`replica of ${port} not online`);
      await sleep(50);
    }
  }
}

export interface RedisCluster {
  nodes: RedisProcess[];
  /** Ports of the nodes that are masters right now. */
  masters(): Promise<number[]>;
  /** Resolves when every live node reports cluster_state:ok and masters serve all 16384 slots. */
  waitOk(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** Three masters and three replicas, slots spread evenly, `cluster_state:ok` on every node. */
export async function startCluster(): Promise<RedisCluster> {
  const nodes: RedisProcess[] = [];
  try {
    for (let i = 0; i < 6; i++) nodes.push(await startRedis({ cluster: true }));
    await cli(nodes[0]!.port, '--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '1', '--cluster-yes');
  } catch (e) {
    await Promise.all(nodes.map((n) => n.stop()));
    throw e;
  }
  const alive = (): RedisProcess[] => nodes.filter((n) => n.pid() !== undefined);
  const cluster: RedisCluster = {
    nodes,
    async masters() {
      const out: number[] = [];
      for (const n of nodes) {
        try {
          const role = await cli(n.port, 'ROLE');
          if (role.startsWith('master')) out.push(n.port);
        } catch {
          /* dead node */
        }
      }
      return out;
    },
    async waitOk(timeoutMs = 30_000) {
      const end = Date.now() + timeoutMs;
      for (;;) {
        let ok = true;
        for (const n of alive()) {
          try {
            const info = await cli(n.port, 'CLUSTER', 'INFO');
            if (!info.includes('cluster_state:ok')) ok = false;
          } catch {
            // killed nodes are skipped by liveness below
          }
        }
        // every slot must be served by a reachable master
        if (ok) {
          const masters = await cluster.masters();
          let slots = 0;
          for (const port of masters) {
            const line = (await cli(port, 'CLUSTER', 'NODES')).split('\n').find((l) => l.includes('myself'));
            for (const range of line?.split(' ').slice(8) ?? []) {
              const [a, b] = range.split('-').map(Number);
              if (Number.isInteger(a)) slots += (b ?? a!) - a! + 1;
            }
          }
          if (slots === 16384) return;
        }
        if (Date.now() > end) throw new Error('cluster did not reach cluster_state:ok');
        await sleep(100);
      }
    },
    async stop() {
      await Promise.all(nodes.map((n) => n.stop()));
    },
  };
  await cluster.waitOk();
  await waitReplicasOnline(await cluster.masters());
  return cluster;
}
