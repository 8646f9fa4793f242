/**
 * The reference app is built on the package as a user would build it: every import of app/ is a
 * file of app/, a Node built-in, a dependency, or a public subpath of sessionward (package.json
 * "exports"). The name resolves to the sources through tsconfig.json "paths" (tsc, tsx) and the
 * vitest alias, which must expose the public subpaths and nothing else.
 */
import { describe, it, expect } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { ROOT } from './helpers/runtimes.js';

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { exports: Record<string, string | { default: string }> };

/** `sessionward/<sub>` -> `./src/<file>.ts` for every subpath of "exports". */
function publicSubpaths(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [sub, target] of Object.entries(pkg.exports)) {
    if (typeof target !== 'object') continue;
    out[sub === '.' ? 'sessionward' : `sessionward${sub.slice(1)}`] = target.default.replace(/^\.\/dist\//, './src/').replace(/\.js$/, '.ts');
  }
  return out;
}

function appFiles(dir = join(ROOT, 'app')): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => (d.isDirectory() ? appFiles(join(dir, d.name)) : d.name.endsWith('.ts') ? [join(dir, d.name)] : []));
}

function importsOf(file: string): string[] {
  const src = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
  const out: string[] = [];
  const visit = (n: ts.Node): void => {
    if ((ts.isImportDeclaration(n) || ts.isExportDeclaration(n)) && n.moduleSpecifier && ts.isStringLiteral(n.moduleSpecifier)) out.push(n.moduleSpecifier.text);
    if (ts.isCallExpression(n) && n.expression.kind === ts.SyntaxKind.ImportKeyword && ts.isStringLiteral(n.arguments[0]!)) out.push(n.arguments[0].text);
    ts.forEachChild(n, visit);
  };
  visit(src);
  return out;
}

describe('reference app on the public subpaths', () => {
  it('tsconfig "paths" maps exactly the public subpaths of package.json "exports" to their sources', () => {
    const cfg = ts.readConfigFile(join(ROOT, 'tsconfig.json'), ts.sys.readFile);
    const paths = (cfg.config as { compilerOptions: { paths: Record<string, string[]> } }).compilerOptions.paths;
    const want = Object.fromEntries(Object.entries(publicSubpaths()).map(([k, v]) => [k, [v]]));
    expect(paths).toEqual(want);
    for (const [, [file]] of Object.entries(paths)) expect(() => readFileSync(join(ROOT, file!))).not.toThrow();
  });

  it('every import in app/ is app/ itself, a built-in, a dependency or a public sessionward subpath', () => {
    const subpaths = publicSubpaths();
    const files = appFiles();
    expect(files.length).toBeGreaterThan(10);
    const bad: string[] = [];
    let named = 0;
    for (const f of files) {
      for (const spec of importsOf(f)) {
        if (spec.startsWith('.')) {
          const target = resolve(dirname(f), spec);
          if (relative(join(ROOT, 'app'), target).startsWith('..')) bad.push(`${relative(ROOT, f)}: ${spec}`);
        } else if (spec === 'sessionward' || spec.startsWith('sessionward/')) {
          named++;
          if (!(spec in subpaths)) bad.push(`${relative(ROOT, f)}: ${spec} is not in "exports"`);
        }
      }
    }
    expect(bad).toEqual([]);
    expect(named).toBeGreaterThan(5);
  });

  it('the app has no copy of what the library provides: client-IP resolution, risk checks, monitoring', () => {
    const names = appFiles().map((f) => relative(join(ROOT, 'app'), f));
    expect(names).not.toContain('lib/client-ip.ts');
    expect(names).not.toContain('lib/monitor.ts');
    const app = readFileSync(join(ROOT, 'app/lib/app.ts'), 'utf8');
    expect(app).not.toMatch(/function riskCheck|riskSignals/);
    // The page script draws; the deadline, the warning, cross-tab messages and the CSRF header are
    // the library's browser module (sessionward/client), which it imports.
    const page = readFileSync(join(ROOT, 'app/public/session.js'), 'utf8');
    expect(page).toMatch(/^import \{ createSessionClient \} from '\/static\/sessionward-client\.js';$/m);
    expect(page).not.toMatch(/BroadcastChannel|fetch\(|setTimeout/);
  });
});
