import { main } from '../../src/cli/index.js';

/** Run `sessionward ...` in this process, capturing stdout and stderr (spawning tsx costs seconds per run). */
export async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const o = { stdout: '', stderr: '' };
  const w = [process.stdout.write, process.stderr.write];
  process.stdout.write = ((s: string) => ((o.stdout += s), true)) as typeof process.stdout.write;
  process.stderr.write = ((s: string) => ((o.stderr += s), true)) as typeof process.stderr.write;
  try {
    const code = await main(['node', 'sessionward', ...args]);
    return { code, ...o };
  } finally {
    [process.stdout.write, process.stderr.write] = w as [typeof process.stdout.write, typeof process.stderr.write];
  }
}
