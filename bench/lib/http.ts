import { Worker } from 'node:worker_threads';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

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
}

/**
 * Requests per second (2xx only) of autocannon against `url`. The generator runs in a worker
 * thread: in the servers' own event loop it would steal their time and skew every ratio.
 */
export async function measureHttp(url: string, o: LoadOptions): Promise<number> {
  const worker = new Worker(new URL('./load-worker.mjs', import.meta.url), {
    workerData: { url, method: o.method ?? 'GET', headers: o.headers, body: o.body, duration: o.duration, connections: o.connections, cookiePerConnection: o.cookiePerConnection },
  });
  const result = await new Promise<{ rps: number; non2xx: number; errors: number }>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  await worker.terminate();
  if (result.non2xx > 0 || result.errors > 0) {
    throw new Error(`${url}: ${result.non2xx} non-2xx, ${result.errors} errors during load`);
  }
  return Math.round(result.rps);
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

/**
 * Measure several subjects side by side, interleaved in rounds so that drift of the shared
 * machine (two cores, load generator included) hits every subject alike. Returns the median.
 */
export async function sideBySide(
  subjects: Record<string, () => Promise<number>>,
  rounds = 3,
): Promise<Record<string, number>> {
  const samples: Record<string, number[]> = {};
  for (let r = 0; r < rounds; r++) {
    for (const [name, run] of Object.entries(subjects)) {
      (samples[name] ??= []).push(await run());
    }
  }
  const out: Record<string, number> = {};
  for (const [name, xs] of Object.entries(samples)) {
    xs.sort((a, b) => a - b);
    out[name] = xs[Math.floor(xs.length / 2)]!;
  }
  return out;
}
