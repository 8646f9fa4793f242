import { afterAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { analyseTokens } from '../src/cli/token-analysis.js';
import { erfc, igamc, nistFrequency, runAll, toBits, fipsMonobit } from '../src/cli/randomness.js';
import { cli } from './helpers/cli-run.js';

const N = 100;
const dir = mkdtempSync(join(tmpdir(), 'sw-cli-entropy-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// AES-256-CTR over zeros is the core of NIST's CTR_DRBG: cryptographic output, fixed seed, so the
// passing case can never flake.
const drbg = createCipheriv('aes-256-ctr', Buffer.alloc(32, 7), Buffer.alloc(16, 1));
const generators: Record<string, () => string[]> = {
  crypto: () => Array.from({ length: N }, () => drbg.update(Buffer.alloc(32)).toString('base64url')),
  'Math.random': () => Array.from({ length: N }, () => Math.random().toString(36).slice(2)),
  counter: () => Array.from({ length: N }, (_, i) => (0x5f3759df + i).toString(16).padStart(32, '0')),
  'timestamp-counter': () => Array.from({ length: N }, (_, i) => `${1_700_000_000_000 + i * 13}-${i}`),
  'truncated sha256': () => Array.from({ length: N }, (_, i) => createHash('sha256').update(`user-${i}`).digest('hex').slice(0, 12)),
};

describe('token analysis', () => {
  it('passes tokens from a cryptographic generator, with about 256 bits each and every test run', () => {
    const r = analyseTokens(generators.crypto!());
    expect(r.reasons).toEqual([]);
    expect(r.pass).toBe(true);
    expect(r.estimatedBits).toBeGreaterThanOrEqual(240);
    expect(r.estimatedBits).toBeLessThanOrEqual(256);
    expect(r.tests.every((t) => t.applicable)).toBe(true);
  });

  it.each(['Math.random', 'counter', 'timestamp-counter', 'truncated sha256'])('fails %s tokens', (name) => {
    const r = analyseTokens(generators[name]!());
    expect(r.pass).toBe(false);
    expect(r.estimatedBits).toBeLessThan(64);
  });

  it('the bit-stream tests catch a counter; a truncated hash passes them and fails on bits alone', () => {
    expect(analyseTokens(generators.counter!()).reasons.join()).toMatch(/bit stream fails.*NIST frequency/);
    const th = analyseTokens(generators['truncated sha256']!());
    expect(th.reasons).toEqual([`estimated ${th.estimatedBits} bits of entropy, below 64`]);
  });

  it('repeated tokens fail; constant prefixes and separators carry no bits', () => {
    const t = generators.crypto!().slice(0, 40);
    expect(analyseTokens([...t, t[0]!]).reasons.join()).toMatch(/repeated/);
    const signed = analyseTokens(t.map((x) => `s%3A${x}.v1`));
    expect(signed.positions.slice(0, 2).every((p) => p.bits === 0)).toBe(true);
    expect(signed.pass).toBe(true);
  });

  it('matches NIST SP 800-22 worked examples: erfc, igamc and the frequency test', () => {
    // 2.1.8: epsilon = 1011010101 -> p = 0.527089
    expect(nistFrequency(Uint8Array.from('1011010101', Number)).applicable).toBe(false);
    expect(erfc(0.632456 / Math.SQRT2)).toBeCloseTo(0.527089, 5);
    // 2.2.8 example: igamc(1.5, 0.5) = 0.801252
    expect(igamc(1.5, 0.5)).toBeCloseTo(0.801252, 5);
    // 2.1.8 100-bit example (e's binary expansion) -> p = 0.109599
    const e100 = '1100100100001111110110101010001000100001011010001100001000110100110001001100011001100010100010111000';
    expect(nistFrequency(Uint8Array.from(e100, Number)).p).toBeCloseTo(0.109599, 5);
  });

  it('FIPS 140-2 monobit bounds: all-ones fails, 20,000 CTR_DRBG bits pass every test', () => {
    expect(fipsMonobit(new Uint8Array(20_000).fill(1)).pass).toBe(false);
    const bits = toBits(createCipheriv('aes-256-ctr', Buffer.alloc(32, 9), Buffer.alloc(16, 2)).update(Buffer.alloc(2500)));
    expect(runAll(bits).filter((t) => !t.pass)).toEqual([]);
  });
});

describe('sessionward entropy', () => {
  it('reads a file: exit 0 for crypto tokens, 1 for a counter, JSON with every test', async () => {
    const good = join(dir, 'good.txt');
    const bad = join(dir, 'bad.txt');
    writeFileSync(good, generators.crypto!().join('\n'));
    writeFileSync(bad, generators.counter!().join('\n'));
    const ok = await cli(['entropy', '--file', good, '--json']);
    expect(ok.code).toBe(0);
    const r = JSON.parse(ok.stdout);
    expect(r).toMatchObject({ pass: true, samples: N, minBits: 64 });
    expect(r.tests.map((t: { name: string }) => t.name)).toEqual(expect.arrayContaining(['FIPS 140-2 poker', 'NIST serial', 'NIST cumulative sums', 'NIST approximate entropy']));
    const no = await cli(['entropy', '--file', bad]);
    expect(no.code).toBe(1);
    expect(no.stdout).toMatch(/^FAIL: about \d+ bits/m);
    // A higher threshold fails the good tokens too.
    expect((await cli(['entropy', '--file', good, '--min-bits', '300'])).code).toBe(1);
  });

  it('collects fresh session cookies from a URL', async () => {
    const server = http.createServer((_req, res) => res.setHeader('set-cookie', `sid=${randomBytes(32).toString('base64url')}; HttpOnly`).end());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const r = await cli(['entropy', '--url', `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, '--samples', '20', '--json']);
      expect(JSON.parse(r.stdout)).toMatchObject({ samples: 20, source: expect.stringMatching(/20 fresh sid cookies/) });
      expect(r.code).toBe(0);
    } finally {
      server.close();
    }
  });

  it('usage errors exit 2: too few tokens, a missing file, --url with --file', async () => {
    const few = join(dir, 'few.txt');
    writeFileSync(few, 'a\nb\n');
    expect((await cli(['entropy', '--file', few])).code).toBe(2);
    expect((await cli(['entropy', '--file', join(dir, 'nope')])).code).toBe(2);
    expect((await cli(['entropy', '--file', few, '--url', 'http://x/'])).code).toBe(2);
  });
});
