/**
 * @internal Start-up errors for keys that say what to do: a missing key (an unset environment
 * variable is the usual cause) reads differently from one that is too short, and both name the
 * `sessionward keygen` command that prints a key in the option's own format.
 */
import { ConfigError } from '../errors.js';

/** The `keygen --kind` that prints a key in the shape the option takes (docs/cli.md). */
export type KeygenKind = 'session' | 'sealed' | 'jwt-hs256';

/** The command, quoted for a message. */
export function keygenHint(kind: KeygenKind): string {
  return `make one with \`npx sessionward keygen --kind ${kind}\``;
}

function missing(value: unknown): string | null {
  if (value === undefined || value === null) return String(value);
  if (value === '') return 'an empty string';
  return null;
}

/**
 * The bytes of a string or byte key, or a ConfigError that tells a missing key from a short or
 * mistyped one. Never echoes the value: it may be a real (if weak) secret.
 *
 * @example
 * const k = keyBytes(secret, 'secrets[0]', 32, 'session')
 */
export function keyBytes(value: unknown, what: string, minBytes: number, kind: KeygenKind): Uint8Array {
  const absent = missing(value);
  if (absent !== null) {
    throw new ConfigError(
      `${what} is missing (got ${absent}; is its environment variable set?): it must be a random key of at least ${minBytes} bytes; ${keygenHint(kind)}`,
    );
  }
  const bytes = typeof value === 'string' ? new TextEncoder().encode(value) : value instanceof Uint8Array ? value : null;
  if (!bytes) throw new ConfigError(`${what} must be a string or bytes, not ${typeof value}; ${keygenHint(kind)}`);
  if (bytes.byteLength < minBytes) {
    throw new ConfigError(`${what} is too short: ${bytes.byteLength} bytes, at least ${minBytes} bytes (${minBytes * 8} bits) are required; ${keygenHint(kind)}`);
  }
  return bytes;
}

/**
 * A ConfigError for a key that must be exactly 32 bytes (raw, or 43 base64url characters).
 *
 * @example
 * if (!raw) throw exactKeyError(k.key, 'key k1', 'sealed')
 */
export function exactKeyError(value: unknown, what: string, kind: KeygenKind): ConfigError {
  const absent = missing(value);
  const got =
    absent !== null
      ? `is missing (got ${absent}; is its environment variable set?)`
      : typeof value === 'string'
        ? `is ${value.length} characters, not a 43-character base64url key`
        : value instanceof Uint8Array
          ? `is ${value.byteLength} bytes`
          : `is a ${typeof value}`;
  return new ConfigError(`${what} ${got}: it must be 32 random bytes (or 43 base64url characters); ${keygenHint(kind)}`);
}
