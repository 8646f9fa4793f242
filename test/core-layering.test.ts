/**
 * Layering of the core (issue 22): the session module owns the narrow interface it needs from
 * the manager instead of importing it, lib/ sits below core/ and stores/, and records are built
 * by one factory. Read from the source, so a new import loop fails here before it tangles.
 */
import { describe, it, expect } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';

/** Relative imports of a source file (type-only ones too: a loop of types is still a loop). */
function importsOf(file: string): string[] {
  const src = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of src.matchAll(/(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+'(\.{1,2}\/[^']+)'/g)) {
    out.push(normalize(join(dirname(file), m[1]!.replace(/\.js$/, '.ts'))));
  }
  return out;
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

/** Every import cycle among `files`, each as the list of files on it. */
function cycles(files: string[]): string[][] {
  const graph = new Map(files.map((f) => [f, importsOf(f).filter((t) => files.includes(t))]));
  const found: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (f: string): void => {
    state.set(f, 'open');
    path.push(f);
    for (const t of graph.get(f) ?? []) {
      if (state.get(t) === 'open') found.push(path.slice(path.indexOf(t)));
      else if (!state.has(t)) visit(t);
    }
    path.pop();
    state.set(f, 'done');
  };
  for (const f of files) if (!state.has(f)) visit(f);
  return found;
}

describe('core layering', () => {
  it('src/core and src/lib have no import cycles (the manager and the session no longer import each other)', () => {
    const files = [...filesUnder('src/core'), ...filesUnder('src/lib')];
    expect(files).toContain(normalize('src/core/session.ts'));
    expect(cycles(files)).toEqual([]);
    expect(importsOf('src/core/session.ts')).not.toContain(normalize('src/core/manager.ts'));
  });

  it('src/lib/record.ts, src/lib/backoff.ts and src/lib/data-json.ts import nothing from above lib/', () => {
    for (const f of ['src/lib/record.ts', 'src/lib/backoff.ts', 'src/lib/data-json.ts']) {
      for (const t of importsOf(f)) expect(t.startsWith(normalize('src/lib/')), `${f} imports ${t}`).toBe(true);
    }
  });

  it('records are built by the one factory, not by hand, in the modules that store records', () => {
    const builders = ['src/core/manager.ts', 'src/core/record-protocol.ts', 'src/stateless/revocation.ts', 'src/stateless/refresh.ts', 'src/stateless/jwt/dpop.ts', 'src/stores/connect.ts', 'src/testing/conformance.ts', 'src/monitor/detector.ts', 'src/adapters/express/legacy.ts'];
    for (const f of builders) {
      // A literal with `version: 1` or `version: x.version + 1` is a record built by hand.
      expect(readFileSync(f, 'utf8'), f).not.toMatch(/\bversion:\s*(?:1\s*[,}]|[\w.]+\.version\s*\+\s*1)/);
    }
  });

  it('the core modules stay small enough to read in one sitting (~450 lines)', () => {
    for (const f of filesUnder('src/core')) expect(readFileSync(f, 'utf8').split('\n').length, f).toBeLessThanOrEqual(460);
  });
});
