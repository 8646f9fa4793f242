-- sessionward PostgreSQL schema, version 1, for public.sessionward_sessions.
-- Generated from src/stores/postgres-migrations.ts (a test keeps the two in step).
-- Use it if you migrate with your own tool instead of `await store.migrate()`. Rename the
-- schema/table/index names consistently if you pass `schema`/`table` to PostgresStore.
-- The bookkeeping row lets a later `store.migrate()` know which version is in place.
BEGIN;
CREATE TABLE IF NOT EXISTS "public"."sessionward_sessions" (
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
CREATE INDEX IF NOT EXISTS "sessionward_sessions_expires_at_idx" ON "public"."sessionward_sessions" (expires_at);
CREATE INDEX IF NOT EXISTS "sessionward_sessions_user_id_idx" ON "public"."sessionward_sessions" (user_id) WHERE user_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS "public"."sessionward_migrations" (table_name text PRIMARY KEY, version integer NOT NULL, migrated_at timestamptz NOT NULL DEFAULT now());
INSERT INTO "public"."sessionward_migrations" (table_name, version) VALUES ('sessionward_sessions', 1)
  ON CONFLICT (table_name) DO UPDATE SET version = EXCLUDED.version, migrated_at = now();
COMMIT;
