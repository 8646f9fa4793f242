/**
 * User accounts in their own SQLite file (`<dataDir>/accounts.db`): the session store may be Redis
 * or PostgreSQL, but the demo's users always live next to the app. The file is opened through the
 * package's SQLite layer (`sessionward/stores/sqlite`), the same two drivers the SqliteStore runs
 * on: node:sqlite where the runtime has it (nothing to compile), better-sqlite3 elsewhere.
 */
import { randomBytes } from 'node:crypto';
import { openSqlite, type SqliteConnection, type SqliteDriverName } from 'sessionward/stores/sqlite';
import { hashPassword, verifyPassword, SCRYPT_MIN_LOG_N } from './passwords.js';

export type Role = 'user' | 'admin';

export interface User {
  id: string;
  email: string;
  role: Role;
  passwordHash: string;
  totpSecret: string | null;
  totpLastStep: number;
  createdAt: number;
  passwordChangedAt: number;
}

interface Row {
  id: string;
  email: string;
  role: string;
  password_hash: string;
  totp_secret: string | null;
  totp_last_step: number;
  created_at: number;
  password_changed_at: number;
}

function toUser(r: Row | undefined): User | null {
  if (!r) return null;
  return {
    id: r.id,
    email: r.email,
    role: r.role === 'admin' ? 'admin' : 'user',
    passwordHash: r.password_hash,
    totpSecret: r.totp_secret,
    totpLastStep: r.totp_last_step,
    createdAt: r.created_at,
    passwordChangedAt: r.password_changed_at,
  };
}

const EMAIL_RE = /^[^\s@<>"']{1,64}@[^\s@<>"']{1,190}\.[^\s@<>"']{2,63}$/;

export function normaliseEmail(email: string): string | null {
  const e = email.trim().toLowerCase();
  return e.length <= 254 && EMAIL_RE.test(e) ? e : null;
}

export class Accounts {
  /**
   * The app's own SQLite connection (exec, prepare -> run/get/all, immediate): other app tables may
   * live in this file beside `users`. Closed by `close()`.
   */
  readonly db: SqliteConnection;
  /** A real hash of a random password: unknown emails cost the same scrypt work (no enumeration by timing). */
  private dummyHash: Promise<string>;

  constructor(
    filename: string,
    private readonly clock: () => number,
    /** Checked by `scryptCost()` in createApp; the default is the OWASP minimum. */
    private readonly scryptLogN = SCRYPT_MIN_LOG_N,
    /** Default `auto`: node:sqlite where the runtime has it, else better-sqlite3 (as `new SqliteStore()`). */
    driver: SqliteDriverName | 'auto' = 'auto',
  ) {
    this.db = openSqlite(filename, driver, "the reference app's accounts");
    // better-sqlite3 waits 5 s for another connection's lock by default, node:sqlite not at all:
    // say it, so a second process (or the CLI) on the file never fails a sign-up with SQLITE_BUSY.
    this.db.exec('PRAGMA busy_timeout = 5000');
    if (filename !== ':memory:') this.db.exec('PRAGMA journal_mode = WAL');
    this.db.exec(`CREATE TABLE IF NOT EXISTS users (
      id TEXT PRIMARY KEY NOT NULL,
      email TEXT NOT NULL UNIQUE,
      role TEXT NOT NULL DEFAULT 'user',
      password_hash TEXT NOT NULL,
      totp_secret TEXT,
      totp_last_step INTEGER NOT NULL DEFAULT -1,
      created_at INTEGER NOT NULL,
      password_changed_at INTEGER NOT NULL
    )`);
    this.dummyHash = hashPassword(randomBytes(16).toString('hex'), scryptLogN);
  }

  byId(id: string): User | null {
    return toUser(this.db.prepare('SELECT * FROM users WHERE id = ?').get(id) as Row | undefined);
  }

  byEmail(email: string): User | null {
    return toUser(this.db.prepare('SELECT * FROM users WHERE email = ?').get(email) as Row | undefined);
  }

  /**
   * Returns null if the email is taken, after the same scrypt work as a free email (the hash comes
   * before the insert), so sign-up cannot tell them apart by timing; a taken email's row is untouched.
   */
  async create(email: string, password: string, role: Role = 'user'): Promise<User | null> {
    const hash = await hashPassword(password, this.scryptLogN);
    const now = this.clock();
    const id = `u_${randomBytes(12).toString('base64url')}`;
    const r = this.db
      .prepare(`INSERT INTO users (id, email, role, password_hash, created_at, password_changed_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(email) DO NOTHING`)
      .run(id, email, role, hash, now, now);
    // node:sqlite may count changes as a bigint: compare numbers.
    return Number(r.changes) === 1 ? this.byId(id) : null;
  }

  /** Create or reset the demo account (its password is printed at every start, never stored in clear). */
  async upsertDemo(email: string, password: string): Promise<void> {
    const hash = await hashPassword(password, this.scryptLogN);
    const now = this.clock();
    const cur = this.byEmail(email);
    if (cur) this.db.prepare('UPDATE users SET password_hash = ?, role = ?, password_changed_at = ? WHERE id = ?').run(hash, 'admin', now, cur.id);
    else this.db.prepare(`INSERT INTO users (id, email, role, password_hash, created_at, password_changed_at) VALUES (?, ?, 'admin', ?, ?, ?)`).run(`u_${randomBytes(12).toString('base64url')}`, email, hash, now, now);
  }

  /** Password check that costs one scrypt whether or not the email exists. */
  async authenticate(email: string, password: string): Promise<User | null> {
    const user = this.byEmail(email);
    if (!user) {
      await verifyPassword(password, await this.dummyHash, this.scryptLogN);
      return null;
    }
    return (await this.checkPassword(user, password)) ? user : null;
  }

  /**
   * Verify a user's password. A right password whose hash is weaker than the configured cost (an
   * older version's 2^15) is hashed again now, the only moment the password is at hand. The row is
   * replaced only if it still holds the hash just verified: a password change racing this sign-in wins.
   */
  async checkPassword(user: User, password: string): Promise<boolean> {
    const v = await verifyPassword(password, user.passwordHash, this.scryptLogN);
    if (v.needsRehash) {
      const hash = await hashPassword(password, this.scryptLogN);
      this.db.prepare('UPDATE users SET password_hash = ? WHERE id = ? AND password_hash = ?').run(hash, user.id, user.passwordHash);
    }
    return v.ok;
  }

  async setPassword(id: string, password: string): Promise<void> {
    const hash = await hashPassword(password, this.scryptLogN);
    this.db.prepare('UPDATE users SET password_hash = ?, password_changed_at = ? WHERE id = ?').run(hash, this.clock(), id);
  }

  setRole(id: string, role: Role): void {
    this.db.prepare('UPDATE users SET role = ? WHERE id = ?').run(role, id);
  }

  setTotp(id: string, secret: string | null, lastStep = -1): void {
    this.db.prepare('UPDATE users SET totp_secret = ?, totp_last_step = ? WHERE id = ?').run(secret, lastStep, id);
  }

  /**
   * Record a used TOTP step; false if that step (or a later one) was used already, so one code
   * can never be accepted twice, even by two requests racing (RFC 6238 section 5.2).
   */
  useTotpStep(id: string, step: number): boolean {
    return Number(this.db.prepare('UPDATE users SET totp_last_step = ? WHERE id = ? AND totp_last_step < ?').run(step, id, step).changes) === 1;
  }

  delete(id: string): void {
    this.db.prepare('DELETE FROM users WHERE id = ?').run(id);
  }

  list(limit = 500): User[] {
    return (this.db.prepare('SELECT * FROM users ORDER BY created_at LIMIT ?').all(limit) as Row[]).map((r) => toUser(r)!);
  }

  count(): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM users').get() as { n: number }).n;
  }

  close(): void {
    this.db.close();
  }
}
