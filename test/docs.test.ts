import { describe, it, expect } from 'vitest';
import { readFileSync, existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

const pkg = JSON.parse(readFileSync('package.json', 'utf8'));

describe('docs and packaging stay true', () => {
  it('docs/security.md maps every SEC-tagged test (regenerate with scripts/regen-security.sh)', () => {
    const generated = execFileSync(process.execPath, ['--import', 'tsx', 'scripts/security-map.ts'], { encoding: 'utf8' });
    const doc = readFileSync('docs/security.md', 'utf8');
    for (const line of generated.trim().split('\n')) expect(doc).toContain(line);
  });

  it('README gives the two quick-start commands', () => {
    const readme = readFileSync('README.md', 'utf8');
    expect(readme).toContain('npm install && npm start');
    expect(readme).toContain('npm test');
    expect(pkg.scripts.start).toBeDefined();
    expect(pkg.scripts.test).toMatch(/typecheck.*lint.*vitest/);
  });

  it('every export subpath has a types condition first and a source file', () => {
    expect(pkg.sideEffects).toBe(false);
    expect(pkg.type).toBe('module');
    for (const [sub, target] of Object.entries<any>(pkg.exports)) {
      if (sub === './package.json') continue;
      expect(Object.keys(target)[0], sub).toBe('types');
      const src = target.default.replace('./dist/', 'src/').replace(/\.js$/, '.ts');
      expect(existsSync(src), `${sub} -> ${src}`).toBe(true);
    }
    expect(existsSync(pkg.bin.sessionward.replace('./dist/', 'src/').replace(/\.js$/, '.ts'))).toBe(true);
  });

  it('every doc and example the README links to exists', () => {
    const readme = readFileSync('README.md', 'utf8');
    for (const m of readme.matchAll(/\]\(((?:docs\/|examples\/)[^)#]+|CHANGELOG\.md)\)/g)) expect(existsSync(m[1]!), m[1]).toBe(true);
  });
});
