/**
 * How unpredictable is a set of session tokens, seen from outside? Per character position we count
 * the distinct symbols and estimate the alphabet each position really draws from; the sum over
 * positions is the estimated effective entropy. The varying parts of every token, decoded to
 * bytes, feed the FIPS 140-2 and NIST SP 800-22 tests (src/cli/randomness.ts). OWASP's Session
 * Management Cheat Sheet asks for at least 64 bits of entropy, hence the default threshold.
 *
 * A value derived deterministically from a random one (an HMAC tag beside the id) looks random
 * from outside and is counted; what this catches is what an attacker could also see: counters,
 * timestamps, short or truncated values, narrow or skewed alphabets, repeats.
 */
import { runAll, toBits, ALPHA, type TestResult } from './randomness.js';

export const DEFAULT_MIN_BITS = 64;

export interface PositionStat {
  index: number;
  distinct: number;
  bits: number;
}

export interface TokenReport {
  samples: number;
  distinct: number;
  lengths: { min: number; max: number };
  alphabet: { name: string; size: number };
  positions: PositionStat[];
  /** Estimated effective entropy per token, in bits (rounded down). */
  estimatedBits: number;
  /** How the varying parts were turned into bits ('none' when no part decodes). */
  bitSource: 'hex' | 'base64' | 'none';
  bitCount: number;
  tests: TestResult[];
  pass: boolean;
  /** Why it failed; empty when it passed. */
  reasons: string[];
}

const CLASSES: ReadonlyArray<[string, RegExp, number]> = [
  ['decimal', /^[0-9]+$/, 10],
  ['hex', /^[0-9a-f]+$/, 16],
  ['hex', /^[0-9A-F]+$/, 16],
  ['base36', /^[0-9a-z]+$/, 36],
  ['base36', /^[0-9A-Z]+$/, 36],
  ['alphanumeric', /^[0-9A-Za-z]+$/, 62],
  ['base64url', /^[0-9A-Za-z_-]+$/, 64],
  ['base64', /^[0-9A-Za-z+/]+$/, 64],
];

/** Cookie values are often percent-encoded (`s%3A...`); decode without ever throwing. */
export function decodeValue(v: string): string {
  try {
    return decodeURIComponent(v);
  } catch {
    return v;
  }
}

/** Expected distinct symbols among n uniform draws from an alphabet of size a. */
function expectedDistinct(a: number, n: number): number {
  return a * (1 - (1 - 1 / a) ** n);
}

/** The alphabet size a position behaves like, from its distinct count (inverse of expectedDistinct). */
function effectiveAlphabet(d: number, n: number, cap: number): number {
  if (d <= 1) return 1;
  if (d >= n || expectedDistinct(cap, n) <= d) return cap;
  let lo = d;
  let hi = cap;
  for (let i = 0; i < 60; i++) {
    const mid = (lo + hi) / 2;
    if (expectedDistinct(mid, n) < d) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

function classify(chars: string): { name: string; size: number } {
  if (chars === '') return { name: 'none', size: 1 };
  for (const [name, re, size] of CLASSES) if (re.test(chars)) return { name, size };
  return { name: `${new Set(chars).size} symbols`, size: new Set(chars).size };
}

/** Segments of a token between separators, for decoding (`s:<id>.<tag>` gives id and tag). */
const SEGMENT = /[0-9A-Za-z+/_-]+/g;

function bitStream(tokens: string[], alphabet: string): { source: TokenReport['bitSource']; bits: Uint8Array } {
  // Symbols of a non-power-of-two alphabet do not map onto whole bits: decoding them would make a
  // uniform source look biased. Such tokens get the per-position estimate only.
  if (alphabet === 'decimal' || alphabet === 'base36' || alphabet === 'alphanumeric') return { source: 'none', bits: new Uint8Array(0) };
  const split = tokens.map((t) => t.match(SEGMENT) ?? []);
  const width = Math.max(0, ...split.map((s) => s.length));
  // Drop segment slots that never change (prefixes, versions, separators' neighbours).
  const varying: number[] = [];
  for (let i = 0; i < width; i++) if (new Set(split.map((s) => s[i] ?? '')).size > 1) varying.push(i);
  const parts = split.flatMap((s) => varying.map((i) => s[i] ?? '').filter((x) => x !== ''));
  if (parts.length === 0) return { source: 'none', bits: new Uint8Array(0) };
  const hex = parts.every((p) => /^[0-9a-f]+$/i.test(p) && p.length % 2 === 0);
  const bytes = parts.map((p) => Buffer.from(p, hex ? 'hex' : 'base64'));
  return { source: hex ? 'hex' : 'base64', bits: toBits(Buffer.concat(bytes)) };
}

/**
 * Analyse tokens (at least 2). `minBits` is the threshold on the estimated effective entropy.
 *
 * @example
 * const r = analyseTokens(tokens, 64); if (!r.pass) console.log(r.reasons.join('\n'))
 */
export function analyseTokens(raw: readonly string[], minBits = DEFAULT_MIN_BITS): TokenReport {
  const tokens = raw.map(decodeValue);
  const n = tokens.length;
  const lengths = tokens.map((t) => t.length);
  const maxLen = Math.max(0, ...lengths);
  const columns: string[][] = [];
  for (let i = 0; i < maxLen; i++) columns.push(tokens.map((t) => t[i] ?? '\u0000'));
  // The alphabet is what the varying positions draw from; constant positions carry no entropy.
  const varyingChars = new Set<string>();
  for (const col of columns) {
    if (new Set(col).size > 1) for (const c of col) if (c !== '\u0000') varyingChars.add(c);
  }
  const alphabet = classify([...varyingChars].join(''));
  const positions = columns.map((col, index) => {
    const distinct = new Set(col).size;
    // An absent character (shorter token) is one more symbol at that position.
    const cap = alphabet.size + (col.includes('\u0000') ? 1 : 0);
    return { index, distinct, bits: Math.log2(effectiveAlphabet(distinct, n, cap)) };
  });
  const estimatedBits = Math.floor(positions.reduce((s, p) => s + p.bits, 0) + 1e-9);
  const { source, bits } = bitStream(tokens, alphabet.name);
  const tests = runAll(bits);

  const reasons: string[] = [];
  const distinct = new Set(tokens).size;
  if (distinct < n) reasons.push(`${n - distinct} repeated token(s) among ${n}`);
  if (estimatedBits < minBits) reasons.push(`estimated ${estimatedBits} bits of entropy, below ${minBits}`);
  const ran = tests.filter((t) => t.applicable);
  const fipsFailed = ran.filter((t) => t.p === undefined && !t.pass);
  const strong = ran.filter((t) => t.p !== undefined && t.p < ALPHA / 100);
  const weak = ran.filter((t) => t.p !== undefined && !t.pass);
  // One NIST test below 0.01 happens by chance about once in a hundred; a FIPS failure, a
  // p-value below 0.0001 or three failures at 0.01 do not.
  if (fipsFailed.length > 0 || strong.length > 0 || weak.length >= 3) {
    const names = [...new Set([...fipsFailed, ...strong, ...weak].map((t) => t.name))];
    reasons.push(`the bit stream fails: ${names.join(', ')}`);
  }
  return {
    samples: n,
    distinct,
    lengths: { min: Math.min(...lengths), max: maxLen },
    alphabet,
    positions,
    estimatedBits,
    bitSource: source,
    bitCount: bits.length,
    tests,
    pass: reasons.length === 0,
    reasons,
  };
}
