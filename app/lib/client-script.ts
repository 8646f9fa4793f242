/**
 * The browser module `sessionward/client`, as text to serve at /static/sessionward-client.js.
 *
 * Found the way an import of the package is: `import.meta.resolve('sessionward/client')`. In an
 * installed package that is the built `dist/client/index.js`, served as it is. In this repository
 * nothing is built: under tsx the name resolves to the TypeScript source (tsconfig "paths"); under
 * Node's own resolution (vitest) to a `dist/` file that does not exist, which maps back to its source
 * the same way tsconfig "paths" does. A source is transpiled once at start-up with the TypeScript
 * compiler (a devDependency, present exactly when there is source to serve).
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export async function clientScript(): Promise<string> {
  let file = fileURLToPath(import.meta.resolve('sessionward/client'));
  if (!existsSync(file)) file = file.replace(/([/\\])dist([/\\])(.*)\.js$/, '$1src$2$3.ts');
  const text = readFileSync(file, 'utf8');
  if (!file.endsWith('.ts')) return text;
  const ts = (await import('typescript')).default;
  return ts.transpileModule(text, { compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext, removeComments: true } }).outputText;
}
