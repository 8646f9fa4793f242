import { describe, it, expect } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAuditLog, verifyAuditLog } from '../src/monitor/audit-log.js';
import { ConfigError } from '../src/index.js';
import { setup, nextCookie } from './helpers/core.js';

const KEY = 'audit-chain-key-0123456789-abcdefghij';

function tmp(): { file: string; done: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'sw-audit-'));
  return { file: join(dir, 'audit.jsonl'), done: () => rmSync(dir, { recursive: true, force: true }) };
}

describe('audit log', () => {
  it('SEC-41: writes allow-listed fields of real manager events, never a token or an unknown field', async () => {
    const t = tmp();
    try {
      const audit = await createAuditLog({ file: t.file, chainKey: KEY });
      const { manager } = setup({ onEvent: audit.write });
      const s = await manager.load({ ip: '192.0.2.1' });
      await s.login('bob');
      const cookie = nextCookie((await manager.commit(s)).headers);
      audit.write({ type: 'app.custom', at: new Date().toISOString(), token: cookie, password: 'hunter2', reason: 'x'.repeat(5000) });
      await audit.close();
      const text = readFileSync(t.file, 'utf8');
      const token = cookie.split('=')[1]!;
      expect(text).not.toContain(token.split('.')[0]);
      expect(text).not.toContain('hunter2');
      const lines = text.trim().split('\n').map((l) => JSON.parse(l));
      expect(lines.map((l) => l.type)).toEqual(expect.arrayContaining(['session.created', 'session.rotated', 'app.custom']));
      expect(lines.at(-1).reason).toHaveLength(300);
      expect(verifyAuditLog(text, { chainKey: KEY })).toMatchObject({ ok: true, lines: lines.length });
    } finally {
      t.done();
    }
  });

  it('the chain detects an edited, a deleted and a reordered line, and a wrong key', async () => {
    const t = tmp();
    try {
      const audit = await createAuditLog({ file: t.file, chainKey: KEY });
      for (let i = 0; i < 5; i++) audit.write({ type: 'session.destroyed', at: `2026-12-05T00:00:0${i}.000Z`, userId: `u${i}` });
      await audit.close();
      const lines = readFileSync(t.file, 'utf8').trim().split('\n');
      expect(verifyAuditLog(lines.join('\n'), { chainKey: KEY }).ok).toBe(true);
      const edited = [...lines];
      edited[2] = edited[2]!.replace('"u2"', '"mallory"');
      expect(verifyAuditLog(edited.join('\n'), { chainKey: KEY })).toMatchObject({ ok: false, badLine: 3 });
      const deleted = lines.filter((_, i) => i !== 1);
      expect(verifyAuditLog(deleted.join('\n'), { chainKey: KEY })).toMatchObject({ ok: false, badLine: 2 });
      const reordered = [lines[0], lines[2], lines[1], lines[3], lines[4]];
      expect(verifyAuditLog(reordered.join('\n'), { chainKey: KEY })).toMatchObject({ ok: false, badLine: 2 });
      expect(verifyAuditLog(lines.join('\n'), { chainKey: `${KEY}-other` })).toMatchObject({ ok: false, badLine: 1 });
      expect(verifyAuditLog('not json\n', { chainKey: KEY })).toMatchObject({ ok: false, badLine: 1 });
      // Truncating the end leaves a valid chain: the last MAC is what an operator anchors elsewhere.
      const full = verifyAuditLog(lines.join('\n'), { chainKey: KEY });
      const cut = verifyAuditLog(lines.slice(0, 4).join('\n'), { chainKey: KEY });
      expect(cut.ok).toBe(true);
      expect(cut.lastMac).not.toBe(full.lastMac);
    } finally {
      t.done();
    }
  });

  it('a restarted writer continues the chain; an unchained tail is refused at start', async () => {
    const t = tmp();
    try {
      let audit = await createAuditLog({ file: t.file, chainKey: KEY });
      audit.write({ type: 'a', at: 'x' });
      await audit.close();
      audit = await createAuditLog({ file: t.file, chainKey: KEY });
      audit.write({ type: 'b', at: 'y' });
      await audit.close();
      expect(verifyAuditLog(readFileSync(t.file, 'utf8'), { chainKey: KEY })).toMatchObject({ ok: true, lines: 2 });
      writeFileSync(t.file, '{"type":"plain"}\n', { flag: 'a' });
      await expect(createAuditLog({ file: t.file, chainKey: KEY })).rejects.toBeInstanceOf(ConfigError);
    } finally {
      t.done();
    }
  });

  it('a chain key shorter than 32 bytes is a ConfigError', async () => {
    await expect(createAuditLog({ file: '/nonexistent/x', chainKey: 'short' })).rejects.toBeInstanceOf(ConfigError);
  });
});
