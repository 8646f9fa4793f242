/**
 * What a TypeScript user's compiler says about the built package: every file in examples/ and
 * test/fixtures/typed-sessions.ts (typed sessions in Express, Fastify, Hono, Next, Web and
 * node:http; `@ts-expect-error` lines that must stay errors) compile with no error under both
 * module resolutions users pick — `nodenext` (Node projects) and `bundler` (Vite, Next, esbuild).
 * README.md's code blocks that are whole modules compile there too, so none uses a name it never
 * defines. Imports go through the package's `exports` map to its `.d.ts` files, as after `npm i`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { builtPackage } from './helpers/built-package.js';
import { ROOT, runChild } from './helpers/runtimes.js';

const RESOLUTIONS = {
  nodenext: { module: 'NodeNext', moduleResolution: 'NodeNext' },
  bundler: { module: 'ESNext', moduleResolution: 'Bundler' },
} as const;

/**
 * README.md's TypeScript blocks that are whole modules (they start with an import or a file-name
 * comment): the manager block becomes session.ts, which the adapter blocks import.
 */
function readmeModules(): Array<[string, string]> {
  const blocks = [...readFileSync(join(ROOT, 'README.md'), 'utf8').matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
  return blocks
    .filter((b) => /^(import |\/\/ )/.test(b) && !b.startsWith('declare '))
    .map((b, i) => [b.includes('export const manager') ? 'session.ts' : `readme-${i}.ts`, b]);
}

const sources = [
  ...readdirSync(join(ROOT, 'examples'))
    .filter((f) => f.endsWith('.ts'))
    .map((f) => join(ROOT, 'examples', f)),
  join(ROOT, 'test/fixtures/typed-sessions.ts'),
];

let base: string;
beforeAll(async () => {
  const built = await builtPackage();
  base = mkdtempSync(join(built, 'types-'));
}, 200_000);
afterAll(() => {
  if (base) rmSync(base, { recursive: true, force: true });
});

describe('TypeScript users compile against the built package', () => {
  it.each(Object.keys(RESOLUTIONS) as Array<keyof typeof RESOLUTIONS>)(
    '%s resolution: the examples and the typed-session checks compile without error',
    async (name) => {
      const dir = join(base, name);
      mkdirSync(dir);
      for (const f of sources) cpSync(f, join(dir, f.slice(f.lastIndexOf('/') + 1)));
      const readme = readmeModules();
      expect(readme.map(([f]) => f)).toContain('session.ts');
      expect(readme.length).toBeGreaterThanOrEqual(7); // the manager and six adapters
      for (const [f, text] of readme) {
        // The Next.js block imports through Next's `@/` alias: Next projects use bundler resolution.
        if (name === 'bundler' || !text.includes("from '@/")) writeFileSync(join(dir, f), text);
      }
      writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: `types-${name}`, private: true, type: 'module' }));
      writeFileSync(
        join(dir, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: {
            ...RESOLUTIONS[name],
            target: 'ES2022',
            lib: ['ES2023', 'DOM'],
            types: ['node'],
            strict: true,
            esModuleInterop: true,
            // Third-party declarations are theirs to check; ours are compiled with the project.
            skipLibCheck: true,
            noEmit: true,
            // Next.js projects' default alias, used by the README's route handler.
            paths: { '@/*': ['./*'] },
          },
          include: ['*.ts'],
        }),
      );
      const r = await runChild(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', dir], dir, 120_000);
      expect(r.code, `tsc (${name}) found errors:\n${r.stdout}${r.stderr}`).toBe(0);
    },
    150_000,
  );
});
