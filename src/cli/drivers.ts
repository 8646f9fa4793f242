/**
 * Optional drivers for the CLI commands that open a store. Each is an optional peer dependency,
 * imported only when a command needs it; a missing one is a ConfigError that says what to
 * `npm i` (as the stores' own ConfigErrors do), never a bare ERR_MODULE_NOT_FOUND.
 */
import { ConfigError } from '../errors.js';

/** An optional driver is not installed: the CLI exits 1 with the package to install. */
export class DriverMissingError extends ConfigError {}

/**
 * Import an optional driver, or throw a DriverMissingError that names the package. Only the
 * package itself missing is reported so: a dependency missing inside it keeps its own error.
 *
 * @example
 * const pg = await requireDriver('pg', () => import('pg'), 'cleanup --postgres')
 */
export async function requireDriver<T>(pkg: string, load: () => Promise<T>, who = 'this'): Promise<T> {
  try {
    return await load();
  } catch (e) {
    const code = (e as { code?: unknown } | null)?.code;
    const message = e instanceof Error ? e.message : '';
    // Node: "Cannot find package 'pg' imported from ..." (ESM) / "Cannot find module 'pg'" (CJS).
    if ((code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && (message.includes(`'${pkg}'`) || message.includes(`"${pkg}"`))) {
      throw new DriverMissingError(`${who} needs the optional package "${pkg}", which is not installed: npm i ${pkg}`);
    }
    throw e;
  }
}
