/**
 * @internal The PostgreSQL store's translations: rows to records (jsonb that PostgreSQL can and
 * cannot hold), driver errors to typed errors, identifiers to quoted SQL. Pure: no queries here.
 */
import { ConfigError, InvalidInputError, StoreError, StoreUnavailableError } from '../errors.js';
import type { SessionMeta, SessionRecord } from './types.js';

export interface Row {
  id: string;
  user_id: string | null;
  data: Record<string, unknown> | string;
  version: number;
  created_at: string;
  last_seen_at: string;
  auth_time: string | null;
  absolute_expires_at: string;
  expires_at: string;
  meta: SessionMeta | string | null;
  rotated_to: string | null;
}

export const COLUMNS =
  'id, user_id, data, version, created_at, last_seen_at, auth_time, absolute_expires_at, expires_at, meta, rotated_to';

/** Quote an SQL identifier (doubling embedded quotes); refuses what PostgreSQL would truncate. */
export function quoteIdent(name: string, what = 'identifier'): string {
  if (name.length === 0 || Buffer.byteLength(name) > 63 || name.includes('\0')) {
    throw new ConfigError(`PostgresStore: ${what} must be 1..63 bytes without NUL`);
  }
  return `"${name.replace(/"/g, '""')}"`;
}

const SQLSTATE = /^[0-9A-Z]{5}$/;

/**
 * Connection-level failures (no SQLSTATE: socket errors, pg client timeouts) and server states
 * that mean "try later" (08 connection, 53 resources, 57 operator intervention/statement timeout)
 * become StoreUnavailableError; anything else the server refused is a StoreError.
 */
export function mapPgError(e: unknown, table?: string): Error {
  if (e instanceof StoreUnavailableError || e instanceof StoreError || e instanceof InvalidInputError || e instanceof ConfigError) return e;
  const code = (e as { code?: unknown } | null)?.code;
  // 42P01 undefined_table: the schema was never created, a deployment step, not an outage.
  if (code === '42P01' && table) {
    return new ConfigError(
      `PostgresStore: table ${table} does not exist: create it with \`npx sessionward migrate --postgres <url>\` ` +
        '(plus --schema/--table if not the defaults), `await store.migrate()` at start-up, or docs/postgres.sql',
    );
  }
  if (typeof code === 'string' && SQLSTATE.test(code)) {
    if (code.startsWith('08') || code.startsWith('53') || code.startsWith('57')) {
      return new StoreUnavailableError('session store unavailable', { cause: e });
    }
    return new StoreError('postgres store failed', { cause: e });
  }
  return new StoreUnavailableError('session store unavailable', { cause: e });
}

/** The server answered with an error: the connection itself is fine. */
export function hasSqlState(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && SQLSTATE.test(code) && !code.startsWith('08') && code !== '57P01';
}

function num(v: string | number | null): number | null {
  return v === null ? null : Number(v);
}

/**
 * JSON text that jsonb refuses: the escape of U+0000 and lone UTF-16 surrogates (`\ud800` without
 * its pair), which JSON.stringify writes as escapes and the other stores keep as given (a session
 * holding `?next=%00` was a 500 on PostgreSQL only). A literal backslash before `u0000` matches too;
 * that only costs the encoding below, never a value.
 */
const JSONB_REFUSES = /\\u(?:0000|d[89a-f][0-9a-f]{2})/i;

/**
 * A value as jsonb text. Data jsonb can hold is stored as is (queryable by administrators); other
 * data is stored as a jsonb *string* holding its JSON text, in which those escapes are plain
 * characters. Data and meta are always objects, so a string in the column is never ambiguous.
 */
export function toJsonb(value: unknown): string {
  const text = JSON.stringify(value);
  return JSONB_REFUSES.test(text) ? JSON.stringify(text) : text;
}

function fromJsonb(column: unknown): unknown {
  if (typeof column !== 'string') return column;
  try {
    return JSON.parse(column);
  } catch (cause) {
    throw new StoreError('corrupt session row', { cause });
  }
}

export function rowToRecord(row: Row): SessionRecord {
  const data = fromJsonb(row.data);
  if (typeof data !== 'object' || data === null) throw new StoreError('corrupt session row');
  return {
    id: row.id,
    userId: row.user_id,
    data: data as Record<string, unknown>,
    version: row.version,
    createdAt: Number(row.created_at),
    lastSeenAt: Number(row.last_seen_at),
    authTime: num(row.auth_time),
    absoluteExpiresAt: Number(row.absolute_expires_at),
    expiresAt: Number(row.expires_at),
    meta: (fromJsonb(row.meta) as SessionMeta | null) ?? {},
    rotatedTo: row.rotated_to,
  };
}
