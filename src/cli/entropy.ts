/**
 * `sessionward entropy`: collect session tokens (fresh sessions from a URL, or one token a line
 * from a file or stdin) and test how unpredictable they are (src/cli/token-analysis.ts).
 */
import { readFileSync } from 'node:fs';
import { UsageError } from './cleanup.js';
import { CookieJar, follow } from './http.js';
import { isSessionName } from './audit-rules.js';
import { analyseTokens, type TokenReport } from './token-analysis.js';
import type { CliIo } from './io.js';

export interface EntropyArgs {
  url?: string;
  cookie?: string;
  file?: string;
  samples: number;
  minBits: number;
  insecure: boolean;
  json: boolean;
}

const MIN_TOKENS = 20;

async function collect(a: EntropyArgs, io: CliIo, stdin: () => Promise<string>): Promise<{ tokens: string[]; source: string }> {
  if (a.url !== undefined) {
    let target: URL;
    try {
      target = new URL(a.url);
    } catch {
      throw new UsageError(`not a URL: ${a.url}`);
    }
    if (target.protocol !== 'http:' && target.protocol !== 'https:') throw new UsageError('the URL must start with http:// or https://');
    const tokens: string[] = [];
    let name = a.cookie;
    for (let i = 0; i < a.samples; i++) {
      const jar = new CookieJar();
      await follow(target, jar, { insecure: a.insecure });
      name ??= [...jar.values.keys()].find(isSessionName);
      const v = name === undefined ? undefined : jar.values.get(name);
      if (v) tokens.push(v);
      io.progress?.(i + 1, a.samples, 'collecting tokens');
    }
    if (name === undefined) throw new UsageError(`${target.href} set no session cookie; name it with --cookie <name>`);
    return { tokens, source: `${tokens.length} fresh ${name} cookies from ${target.href}` };
  }
  const text = a.file === undefined || a.file === '-' ? await stdin() : readFileOrUsage(a.file);
  const tokens = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '');
  return { tokens, source: `${tokens.length} tokens from ${a.file ?? 'stdin'}` };
}

function readFileOrUsage(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
}

/**
 * Run the command; resolves to the exit code (0 pass, 1 fail). UsageError / NetworkError -> 2.
 *
 * @example
 * await runEntropy({ file: 'tokens.txt', samples: 0, minBits: 64, insecure: false, json: true }, io, readStdin)
 */
export async function runEntropy(a: EntropyArgs, io: CliIo, stdin: () => Promise<string>): Promise<number> {
  if (a.url !== undefined && a.file !== undefined) throw new UsageError('choose one of --url and --file');
  if (a.cookie !== undefined && a.url === undefined) throw new UsageError('--cookie applies to --url only');
  if (!Number.isInteger(a.samples) || a.samples < MIN_TOKENS || a.samples > 100_000) throw new UsageError(`--samples must be an integer from ${MIN_TOKENS} to 100000`);
  if (!Number.isFinite(a.minBits) || a.minBits < 1 || a.minBits > 4096) throw new UsageError('--min-bits must be a number from 1 to 4096');
  const { tokens, source } = await collect(a, io, stdin);
  if (tokens.length < MIN_TOKENS) throw new UsageError(`need at least ${MIN_TOKENS} tokens, got ${tokens.length} (${source})`);
  const r = analyseTokens(tokens, a.minBits);
  if (a.json) io.out(JSON.stringify({ source, minBits: a.minBits, ...r }));
  else io.out(human(r, source, a.minBits));
  return r.pass ? 0 : 1;
}

function human(r: TokenReport, source: string, minBits: number): string {
  const lines = [
    `sessionward entropy: ${source}`,
    `${r.pass ? 'PASS' : 'FAIL'}: about ${r.estimatedBits} bits of effective entropy per token (threshold ${minBits})`,
    `  tokens ${r.samples} (${r.distinct} distinct), length ${r.lengths.min === r.lengths.max ? r.lengths.min : `${r.lengths.min}-${r.lengths.max}`}, alphabet ${r.alphabet.name} (${r.alphabet.size})`,
  ];
  const constant = r.positions.filter((p) => p.bits === 0).length;
  lines.push(`  positions: ${r.positions.length - constant} vary, ${constant} constant; bits per position ${r.positions.map((p) => p.bits.toFixed(1)).join(' ')}`);
  lines.push(`  bit stream: ${r.bitSource === 'none' ? 'not tested (the alphabet does not map onto whole bits)' : `${r.bitCount} bits decoded as ${r.bitSource}`}`);
  for (const t of r.tests) {
    const verdict = !t.applicable ? 'skip' : t.pass ? 'pass' : 'FAIL';
    lines.push(`    ${verdict.padEnd(4)}  ${t.name.padEnd(28)} ${t.p !== undefined ? `p=${t.p.toFixed(4)}  ` : ''}${t.detail}`);
  }
  for (const reason of r.reasons) lines.push(`  reason: ${reason}`);
  return lines.join('\n');
}
