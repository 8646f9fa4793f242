/**
 * PostgreSQL schema for `PostgresStore`, as ordered migrations. `docs/postgres.sql` holds the same
 * SQL rendered for the default names (`public.sessionward_sessions`) for teams that migrate with
 * their own tool; keep both in step.
 *
 * Placeholders: `{{table}}` is the schema-qualified, quoted table; `{{prefix}}` a quoted-safe
 * identifier prefix for index names (index names live in the table's schema).
 */
export interface PostgresMigration {
  version: number;
  sql: string;
}

export const POSTGRES_MIGRATIONS: readonly PostgresMigration[] = [
  {
    version: 1,
    // bigint milliseconds match the store contract exactly; jsonb keeps data queryable by admins.
    sql: `
CREATE TABLE IF NOT EXISTS {{table}} (
  id text PRIMARY KEY,
  user_id text,
  data jsonb NOT NULL,
  version integer NOT NULL,
  created_at bigint NOT NULL,
  last_seen_at bigint NOT NULL,
  auth_time bigint,
  absolute_expires_at bigint NOT NULL,
  expires_at bigint NOT NULL,
  meta jsonb NOT NULL DEFAULT '{}'::jsonb,
  rotated_to text
);
CREATE INDEX IF NOT EXISTS {{expires_idx}} ON {{table}} (expires_at);
CREATE INDEX IF NOT EXISTS {{user_idx}} ON {{table}} (user_id) WHERE user_id IS NOT NULL;
`,
  },
];

export const POSTGRES_SCHEMA_VERSION = POSTGRES_MIGRATIONS[POSTGRES_MIGRATIONS.length - 1]!.version;

/** Bookkeeping table, one row per sessionward table in the schema. */
export const POSTGRES_MIGRATIONS_TABLE = 'sessionward_migrations';

/** DDL of the bookkeeping table; `qualified` is the quoted, schema-qualified name. */
export function migrationsTableSql(qualified: string): string {
  return `CREATE TABLE IF NOT EXISTS ${qualified} (table_name text PRIMARY KEY, version integer NOT NULL, migrated_at timestamptz NOT NULL DEFAULT now())`;
}

/**
 * The full schema as one SQL script for the given (already quoted) names.
 *
 * @example
 * renderPostgresSchema('"public"."sessionward_sessions"', '"sessionward_sessions_expires_at_idx"', '"sessionward_sessions_user_id_idx"')
 */
export function renderPostgresSchema(table: string, expiresIdx: string, userIdx: string): string {
  return POSTGRES_MIGRATIONS.map((m) =>
    m.sql.replaceAll('{{table}}', table).replaceAll('{{expires_idx}}', expiresIdx).replaceAll('{{user_idx}}', userIdx),
  ).join('\n');
}

/**
 * The whole schema for `public.sessionward_sessions` as one script, bookkeeping row included:
 * the text of `docs/postgres.sql`, for teams that run migrations with their own tool.
 *
 * @example
 * fs.writeFileSync('migrations/001_sessions.sql', renderPostgresScript())
 */
export function renderPostgresScript(): string {
  const body = renderPostgresSchema(
    '"public"."sessionward_sessions"',
    '"sessionward_sessions_expires_at_idx"',
    '"sessionward_sessions_user_id_idx"',
  );
  const mt = `"public"."${POSTGRES_MIGRATIONS_TABLE}"`;
  return `-- sessionward PostgreSQL schema, version ${POSTGRES_SCHEMA_VERSION}, for public.sessionward_sessions.
-- Generated from src/stores/postgres-migrations.ts (a test keeps the two in step).
-- Use it if you migrate with your own tool instead of \`await store.migrate()\`. Rename the
-- schema/table/index names consistently if you pass \`schema\`/\`table\` to PostgresStore.
-- The bookkeeping row lets a later \`store.migrate()\` know which version is in place.
BEGIN;
${body.trim()}
${migrationsTableSql(mt)};
INSERT INTO ${mt} (table_name, version) VALUES ('sessionward_sessions', ${POSTGRES_SCHEMA_VERSION})
  ON CONFLICT (table_name) DO UPDATE SET version = EXCLUDED.version, migrated_at = now();
COMMIT;
`;
}
