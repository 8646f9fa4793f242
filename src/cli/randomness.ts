/**
 * Statistical tests on a bit stream: the four FIPS 140-2 power-up tests (section 4.9.1, fixed
 * intervals on 20,000 bits) and a subset of NIST SP 800-22 rev. 1a (frequency 2.1, block
 * frequency 2.2, runs 2.3, longest run of ones 2.4, approximate entropy 2.12, serial 2.11,
 * cumulative sums 2.13), each giving a p-value. Pure functions; bits are 0/1 in a Uint8Array.
 */

export interface TestResult {
  name: string;
  /** false when the stream is too short for this test. */
  applicable: boolean;
  pass: boolean;
  /** NIST tests: the p-value (pass when >= ALPHA). FIPS tests: undefined. */
  p?: number;
  detail: string;
}

/** NIST's suggested significance level. */
export const ALPHA = 0.01;
export const FIPS_BITS = 20_000;
export const NIST_MIN_BITS = 1_000;

/** Bytes to bits, most significant bit first. */
export function toBits(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.length * 8);
  for (let i = 0; i < bytes.length; i++) for (let b = 0; b < 8; b++) out[i * 8 + b] = (bytes[i]! >> (7 - b)) & 1;
  return out;
}

// ---- special functions (complementary error function, regularised upper incomplete gamma) ----

/** erfc with relative error below 1.2e-7 (Chebyshev fit, Numerical Recipes 6.2). */
export function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? r : 2 - r;
}

function normalCdf(x: number): number {
  return 0.5 * erfc(-x / Math.SQRT2);
}

function lnGamma(x: number): number {
  // Lanczos approximation (g = 7, n = 9).
  const c = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - lnGamma(1 - x);
  x -= 1;
  let a = c[0]!;
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += c[i]! / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Q(a, x) = Γ(a, x) / Γ(a): series below a + 1, continued fraction above. */
export function igamc(a: number, x: number): number {
  if (x <= 0) return 1;
  if (x < a + 1) {
    let sum = 1 / a;
    let term = sum;
    for (let n = 1; n < 1000; n++) {
      term *= x / (a + n);
      sum += term;
      if (Math.abs(term) < Math.abs(sum) * 1e-15) break;
    }
    return 1 - sum * Math.exp(-x + a * Math.log(x) - lnGamma(a));
  }
  // Lentz's method.
  let b = x + 1 - a;
  let c = 1 / 1e-300;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 1000; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < 1e-300) d = 1e-300;
    c = b + an / c;
    if (Math.abs(c) < 1e-300) c = 1e-300;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-15) break;
  }
  return Math.exp(-x + a * Math.log(x) - lnGamma(a)) * h;
}

// ---- FIPS 140-2 (first 20,000 bits) ----

function fips(name: string, bits: Uint8Array, run: (b: Uint8Array) => { pass: boolean; detail: string }): TestResult {
  if (bits.length < FIPS_BITS) return { name, applicable: false, pass: true, detail: `needs ${FIPS_BITS} bits, have ${bits.length}` };
  return { name, applicable: true, ...run(bits.subarray(0, FIPS_BITS)) };
}

function runLengths(b: Uint8Array, each: (bit: number, len: number) => void): void {
  let len = 1;
  for (let i = 1; i <= b.length; i++) {
    if (i < b.length && b[i] === b[i - 1]) len++;
    else {
      each(b[i - 1]!, len);
      len = 1;
    }
  }
}

export function fipsMonobit(bits: Uint8Array): TestResult {
  return fips('FIPS 140-2 monobit', bits, (b) => {
    let ones = 0;
    for (const x of b) ones += x;
    return { pass: ones > 9725 && ones < 10275, detail: `${ones} ones (pass: 9726..10274)` };
  });
}

export function fipsPoker(bits: Uint8Array): TestResult {
  return fips('FIPS 140-2 poker', bits, (b) => {
    const f = new Array<number>(16).fill(0);
    for (let i = 0; i < b.length; i += 4) f[(b[i]! << 3) | (b[i + 1]! << 2) | (b[i + 2]! << 1) | b[i + 3]!]!++;
    const x = (16 / 5000) * f.reduce((s, v) => s + v * v, 0) - 5000;
    return { pass: x > 2.16 && x < 46.17, detail: `X = ${x.toFixed(2)} (pass: 2.16..46.17)` };
  });
}

const FIPS_RUNS: ReadonlyArray<[number, number]> = [
  [2315, 2685],
  [1114, 1386],
  [527, 723],
  [240, 384],
  [103, 209],
  [103, 209],
];

export function fipsRuns(bits: Uint8Array): TestResult {
  return fips('FIPS 140-2 runs', bits, (b) => {
    const counts = [new Array<number>(6).fill(0), new Array<number>(6).fill(0)];
    runLengths(b, (bit, len) => counts[bit]![Math.min(len, 6) - 1]!++);
    const bad: string[] = [];
    for (const bit of [0, 1]) {
      counts[bit]!.forEach((n, i) => {
        const [lo, hi] = FIPS_RUNS[i]!;
        if (n < lo || n > hi) bad.push(`${n} runs of ${i + 1}${i === 5 ? '+' : ''} ${bit}s (pass: ${lo}..${hi})`);
      });
    }
    return { pass: bad.length === 0, detail: bad.length ? bad.join('; ') : 'every run length within its interval' };
  });
}

export function fipsLongRun(bits: Uint8Array): TestResult {
  return fips('FIPS 140-2 long run', bits, (b) => {
    let longest = 0;
    runLengths(b, (_bit, len) => (longest = Math.max(longest, len)));
    return { pass: longest < 26, detail: `longest run ${longest} (pass: < 26)` };
  });
}

// ---- NIST SP 800-22 ----

function nist(name: string, bits: Uint8Array, min: number, run: (b: Uint8Array, n: number) => { p: number; detail: string }): TestResult {
  if (bits.length < min) return { name, applicable: false, pass: true, detail: `needs ${min} bits, have ${bits.length}` };
  const { p, detail } = run(bits, bits.length);
  const pv = Number.isFinite(p) ? Math.min(1, Math.max(0, p)) : 0;
  return { name, applicable: true, pass: pv >= ALPHA, p: pv, detail };
}

export function nistFrequency(bits: Uint8Array): TestResult {
  return nist('NIST frequency', bits, 100, (b, n) => {
    let s = 0;
    for (const x of b) s += 2 * x - 1;
    return { p: erfc(Math.abs(s) / Math.sqrt(n) / Math.SQRT2), detail: `S = ${s}` };
  });
}

export function nistBlockFrequency(bits: Uint8Array, m = 128): TestResult {
  return nist('NIST block frequency', bits, m * 8, (b, n) => {
    const blocks = Math.floor(n / m);
    let chi = 0;
    for (let i = 0; i < blocks; i++) {
      let ones = 0;
      for (let j = 0; j < m; j++) ones += b[i * m + j]!;
      chi += (ones / m - 0.5) ** 2;
    }
    chi *= 4 * m;
    return { p: igamc(blocks / 2, chi / 2), detail: `${blocks} blocks of ${m}, χ² = ${chi.toFixed(2)}` };
  });
}

export function nistRuns(bits: Uint8Array): TestResult {
  return nist('NIST runs', bits, 100, (b, n) => {
    let ones = 0;
    for (const x of b) ones += x;
    const pi = ones / n;
    // The frequency prerequisite (2.3.4 step 2): a biased stream fails runs outright.
    if (Math.abs(pi - 0.5) >= 2 / Math.sqrt(n)) return { p: 0, detail: `proportion of ones ${pi.toFixed(4)} fails the prerequisite` };
    let v = 1;
    for (let i = 1; i < n; i++) if (b[i] !== b[i - 1]) v++;
    const p = erfc(Math.abs(v - 2 * n * pi * (1 - pi)) / (2 * Math.sqrt(2 * n) * pi * (1 - pi)));
    return { p, detail: `${v} runs` };
  });
}

export function nistLongestRun(bits: Uint8Array): TestResult {
  return nist('NIST longest run of ones', bits, 128, (b, n) => {
    // Table 2.4.2: block size, class bounds (first class is "at most", last "at least") and probabilities.
    const [m, lo, pis] =
      n >= 6272
        ? ([128, 4, [0.1174, 0.243, 0.2493, 0.1752, 0.1027, 0.1124]] as const)
        : ([8, 1, [0.2148, 0.3672, 0.2305, 0.1875]] as const);
    const k = pis.length - 1;
    const blocks = Math.floor(n / m);
    const v = new Array<number>(k + 1).fill(0);
    for (let i = 0; i < blocks; i++) {
      let longest = 0;
      let cur = 0;
      for (let j = 0; j < m; j++) {
        cur = b[i * m + j] ? cur + 1 : 0;
        if (cur > longest) longest = cur;
      }
      v[Math.min(Math.max(longest - lo, 0), k)]!++;
    }
    let chi = 0;
    for (let i = 0; i <= k; i++) chi += (v[i]! - blocks * pis[i]!) ** 2 / (blocks * pis[i]!);
    return { p: igamc(k / 2, chi / 2), detail: `${blocks} blocks of ${m}, χ² = ${chi.toFixed(2)}` };
  });
}

export function nistCumulativeSums(bits: Uint8Array): TestResult {
  return nist('NIST cumulative sums', bits, 100, (b, n) => {
    let s = 0;
    let z = 0;
    for (const x of b) {
      s += 2 * x - 1;
      z = Math.max(z, Math.abs(s));
    }
    if (z === 0) return { p: 0, detail: 'z = 0' };
    const sq = Math.sqrt(n);
    let sum1 = 0;
    for (let k = Math.floor((-n / z + 1) / 4); k <= Math.floor((n / z - 1) / 4); k++) {
      sum1 += normalCdf(((4 * k + 1) * z) / sq) - normalCdf(((4 * k - 1) * z) / sq);
    }
    let sum2 = 0;
    for (let k = Math.floor((-n / z - 3) / 4); k <= Math.floor((n / z - 1) / 4); k++) {
      sum2 += normalCdf(((4 * k + 3) * z) / sq) - normalCdf(((4 * k + 1) * z) / sq);
    }
    return { p: 1 - sum1 + sum2, detail: `max |partial sum| = ${z}` };
  });
}

/** Counts of every overlapping m-bit pattern, wrapping around the end (2.11, 2.12). */
function patternCounts(b: Uint8Array, m: number): Uint32Array {
  const counts = new Uint32Array(1 << m);
  if (m === 0) return counts;
  const n = b.length;
  const mask = (1 << m) - 1;
  let v = 0;
  for (let i = 0; i < m - 1; i++) v = (v << 1) | b[i]!;
  for (let i = 0; i < n; i++) {
    v = ((v << 1) | b[(i + m - 1) % n]!) & mask;
    counts[v]!++;
  }
  return counts;
}

export function nistApproximateEntropy(bits: Uint8Array): TestResult {
  const m = Math.max(2, Math.min(5, Math.floor(Math.log2(Math.max(bits.length, 2))) - 6));
  return nist('NIST approximate entropy', bits, NIST_MIN_BITS, (b, n) => {
    const phi = (mm: number): number => {
      let s = 0;
      for (const c of patternCounts(b, mm)) if (c > 0) s += (c / n) * Math.log(c / n);
      return s;
    };
    const apen = phi(m) - phi(m + 1);
    const chi = 2 * n * (Math.LN2 - apen);
    return { p: igamc(2 ** (m - 1), chi / 2), detail: `m = ${m}, ApEn = ${apen.toFixed(6)}` };
  });
}

export function nistSerial(bits: Uint8Array): TestResult {
  const m = Math.max(3, Math.min(6, Math.floor(Math.log2(Math.max(bits.length, 2))) - 3));
  return nist('NIST serial', bits, NIST_MIN_BITS, (b, n) => {
    const psi = (mm: number): number => {
      if (mm <= 0) return 0;
      let s = 0;
      for (const c of patternCounts(b, mm)) s += c * c;
      return (2 ** mm / n) * s - n;
    };
    const [p0, p1, p2] = [psi(m), psi(m - 1), psi(m - 2)];
    const pa = igamc(2 ** (m - 2), (p0 - p1) / 2);
    const pb = igamc(2 ** (m - 3), (p0 - 2 * p1 + p2) / 2);
    // Both p-values must pass; report the smaller.
    return { p: Math.min(pa, pb), detail: `m = ${m}, p1 = ${pa.toFixed(4)}, p2 = ${pb.toFixed(4)}` };
  });
}

/** Every test, FIPS first. */
export function runAll(bits: Uint8Array): TestResult[] {
  return [
    fipsMonobit(bits),
    fipsPoker(bits),
    fipsRuns(bits),
    fipsLongRun(bits),
    nistFrequency(bits),
    nistBlockFrequency(bits),
    nistRuns(bits),
    nistLongestRun(bits),
    nistCumulativeSums(bits),
    nistApproximateEntropy(bits),
    nistSerial(bits),
  ];
}
