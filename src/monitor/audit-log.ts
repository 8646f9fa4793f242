/**
 * An append-only audit log of events as JSON lines, with an opt-in keyed hash chain.
 *
 * Only allow-listed fields are written, each a string (capped), a number or null, so nothing that
 * was not meant for a log — a token, a cookie value, a password — can reach the file (SEC-41).
 *
 * With `chainKey`, every line carries `prev` (the previous line's MAC) and `mac` =
 * HMAC-SHA256(chainKey, prev || "\n" || the line without `mac`). Editing, reordering or deleting a
 * line breaks the chain at that line, and without the key nobody can rebuild it. Truncating the
 * END of the file leaves a valid shorter chain: anchor the last MAC elsewhere (`verifyAuditLog`
 * returns it) if that matters to you. Restarting the writer continues the chain from the file.
 *
 * @example
 * const audit = await createAuditLog({ file: 'audit.jsonl', chainKey: process.env.AUDIT_KEY })
 * new SessionManager({ ..., onEvent: audit.write })
 * const report = verifyAuditLog(readFileSync('audit.jsonl', 'utf8'), { chainKey: process.env.AUDIT_KEY })
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createWriteStream, promises as fs, type WriteStream } from 'node:fs';
import { ConfigError } from '../errors.js';
import { keyBytes } from '../lib/key-errors.js';
import type { SessionwardEvent } from './events.js';
import { auditRecord } from './record.js';

export { AUDIT_FIELDS, auditRecord } from './record.js';

const GENESIS = '0'.repeat(64);

export interface AuditLogOptions {
  /** File to append to (created with mode 0600). */
  file: string;
  /** Key of the hash chain, >= 32 bytes. Without it lines are written unchained. */
  chainKey?: string | Uint8Array;
}

export interface AuditLog {
  /** Append one event; never throws (a failing disk must not fail a request). */
  write: (event: { type: string; [field: string]: unknown } | SessionwardEvent) => void;
  /** Flush and close the file. */
  close(): Promise<void>;
}

export interface AuditVerification {
  ok: boolean;
  /** Lines checked (blank lines are ignored). */
  lines: number;
  /** 1-based number of the first line that breaks the chain, when `ok` is false. */
  badLine?: number;
  /** MAC of the last line: anchor it elsewhere to detect truncation. */
  lastMac?: string;
}

function keyOf(k: string | Uint8Array): Buffer {
  return Buffer.from(keyBytes(k, 'audit log chainKey', 32, 'session'));
}

function macOf(key: Buffer, prev: string, body: string): string {
  return createHmac('sha256', key).update(prev).update('\n').update(body).digest('hex');
}

/** The chained line for `rec` after `prev`: `{...rec, prev}` then its MAC. */
function chainLine(key: Buffer, prev: string, rec: Record<string, unknown>): { line: string; mac: string } {
  const body = JSON.stringify({ ...rec, prev });
  const mac = macOf(key, prev, body);
  return { line: `${body.slice(0, -1)},"mac":"${mac}"}`, mac };
}

/** Open (or continue) an audit log. */
export async function createAuditLog(options: AuditLogOptions): Promise<AuditLog> {
  const key = options.chainKey === undefined ? null : keyOf(options.chainKey);
  let prev = GENESIS;
  if (key) {
    const last = await lastLine(options.file);
    if (last !== null) {
      const parsed = safeParse(last);
      if (!parsed || typeof parsed.mac !== 'string') {
        throw new ConfigError(`audit log ${options.file} does not end with a chained line; verify it, then start a new file`);
      }
      prev = parsed.mac;
    }
  }
  const stream: WriteStream = createWriteStream(options.file, { flags: 'a', mode: 0o600 });
  stream.on('error', () => undefined);
  return {
    write(event) {
      try {
        const rec = auditRecord(event as unknown as Record<string, unknown>);
        if (!key) {
          stream.write(`${JSON.stringify(rec)}\n`);
          return;
        }
        const { line, mac } = chainLine(key, prev, rec);
        prev = mac;
        stream.write(`${line}\n`);
      } catch {
        // An audit sink never breaks the request that produced the event.
      }
    },
    close: () => new Promise((resolve) => stream.end(() => resolve())),
  };
}

/**
 * Check a chained log's text. A line that is not JSON, lacks `prev`/`mac`, does not follow the
 * previous line, or whose MAC does not match its content, ends the check with `ok: false`.
 */
export function verifyAuditLog(text: string, options: { chainKey: string | Uint8Array }): AuditVerification {
  const key = keyOf(options.chainKey);
  let prev = GENESIS;
  let n = 0;
  let lineNo = 0;
  for (const raw of text.split('\n')) {
    lineNo++;
    if (raw.trim() === '') continue;
    n++;
    const obj = safeParse(raw);
    if (!obj || typeof obj.mac !== 'string' || obj.prev !== prev) return { ok: false, lines: n, badLine: lineNo };
    const { mac, ...rest } = obj;
    const expected = chainLine(key, prev, stripPrev(rest)).mac;
    const a = Buffer.from(mac, 'utf8');
    const b = Buffer.from(expected, 'utf8');
    if (a.length !== b.length || !timingSafeEqual(a, b)) return { ok: false, lines: n, badLine: lineNo };
    prev = mac;
  }
  return { ok: true, lines: n, lastMac: n ? prev : undefined };
}

function stripPrev(o: Record<string, unknown>): Record<string, unknown> {
  const { prev: _prev, ...rest } = o;
  return rest;
}

function safeParse(s: string): Record<string, unknown> | null {
  try {
    const v: unknown = JSON.parse(s);
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** The last non-empty line of a file, read from its end (files grow large), or null. */
async function lastLine(file: string): Promise<string | null> {
  let fh: fs.FileHandle;
  try {
    fh = await fs.open(file, 'r');
  } catch {
    return null;
  }
  try {
    const { size } = await fh.stat();
    let end = size;
    let tail = '';
    while (end > 0) {
      const len = Math.min(64 * 1024, end);
      const buf = Buffer.alloc(len);
      await fh.read(buf, 0, len, end - len);
      end -= len;
      tail = buf.toString('utf8') + tail;
      const trimmed = tail.replace(/\n+$/, '');
      const i = trimmed.lastIndexOf('\n');
      if (i >= 0) return trimmed.slice(i + 1);
      if (end === 0) return trimmed === '' ? null : trimmed;
    }
    return null;
  } finally {
    await fh.close();
  }
}
