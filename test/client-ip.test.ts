/**
 * `clientIpResolver` (sessionward/node): the client address behind reverse proxies the operator
 * names. X-Forwarded-For is typed by the client unless a trusted proxy wrote it, so only the hops
 * our own proxies appended are believed. Driven through real node:http requests.
 */
import { describe, it, expect, afterAll } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { clientIpResolver, parseTrustProxy, nodeSessions, type TrustProxy } from '../src/adapters/node.js';
import { SessionManager, MemoryStore, ConfigError } from '../src/index.js';
import { SECRET } from './helpers/core.js';

const servers: http.Server[] = [];
afterAll(() => {
  for (const s of servers) s.close();
});

/** A server answering with the address the resolver saw; requests go out from 127.0.0.1. */
async function seen(trust: TrustProxy | undefined, xff?: string | string[]): Promise<string> {
  const resolve = clientIpResolver(trust);
  const server = http.createServer((req, res) => res.end(resolve(req) ?? 'none'));
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const headers: Record<string, string | string[]> = xff === undefined ? {} : { 'x-forwarded-for': xff };
  return new Promise((ok, fail) => {
    http.get({ host: '127.0.0.1', port, headers }, (res) => {
      let b = '';
      res.on('data', (c) => (b += c)).on('end', () => ok(b));
    }).on('error', fail);
  });
}

describe('clientIpResolver', () => {
  it('off: the socket address, whatever X-Forwarded-For says', async () => {
    expect(await seen(undefined, '203.0.113.9')).toBe('127.0.0.1');
    expect(await seen(parseTrustProxy('0'), '203.0.113.9')).toBe('127.0.0.1');
  });

  it('one hop: the entry our proxy appended, not what the client typed before it', async () => {
    expect(await seen({ hops: 1 }, '6.6.6.6, 203.0.113.9')).toBe('203.0.113.9');
    expect(await seen({ hops: 2 }, '198.51.100.1, 203.0.113.9')).toBe('198.51.100.1');
    // More hops than entries: the leftmost entry there is.
    expect(await seen({ hops: 3 }, '203.0.113.9')).toBe('203.0.113.9');
  });

  it('addresses: walks past trusted proxies (CIDR too) to the first untrusted entry', async () => {
    expect(await seen({ addresses: ['127.0.0.1', '10.0.0.0/8'] }, '6.6.6.6, 203.0.113.9, 10.1.2.3')).toBe('203.0.113.9');
    // The socket is not a trusted proxy: the header is not believed at all.
    expect(await seen({ addresses: ['10.0.0.5'] }, '203.0.113.9')).toBe('127.0.0.1');
  });

  it('hostile headers: a non-IP entry stops the walk at the hop that wrote it; repeated headers join', async () => {
    expect(await seen({ hops: 2 }, 'evil<script>, 203.0.113.9')).toBe('203.0.113.9');
    expect(await seen({ hops: 1 }, 'not-an-ip')).toBe('127.0.0.1');
    expect(await seen({ hops: 1 }, ',,, ,')).toBe('127.0.0.1');
    expect(await seen({ hops: 1 }, `${'1.2.3.4,'.repeat(1000)}203.0.113.9`)).toBe('203.0.113.9');
    expect(await seen({ hops: 1 }, '::ffff:203.0.113.9')).toBe('203.0.113.9');
  });

  it('a bad setting is a ConfigError at start-up, not a silent trust-nobody (or everybody)', () => {
    for (const bad of ['true', 'proxy.internal', '10.0.0.0/33', '10.0.0.1/8/1', '-1', '::1/129']) {
      expect(() => parseTrustProxy(bad), bad).toThrow(ConfigError);
    }
    expect(() => clientIpResolver({ hops: -1 })).toThrow(ConfigError);
    expect(() => clientIpResolver({ hops: 1.5 })).toThrow(ConfigError);
    expect(() => clientIpResolver({ addresses: ['nope'] })).toThrow(ConfigError);
    expect(parseTrustProxy(' 2 ')).toEqual({ hops: 2 });
    expect(parseTrustProxy('10.0.0.5, 10.1.0.0/16')).toEqual({ addresses: ['10.0.0.5', '10.1.0.0/16'] });
    expect(parseTrustProxy(undefined)).toBeUndefined();
  });

  it('the session layer records the resolved address (device list, events)', async () => {
    const events: Array<{ type: string; ip?: string }> = [];
    const manager = new SessionManager({ store: new MemoryStore(), secrets: [SECRET], onEvent: (e) => events.push(e) });
    const sessions = nodeSessions(manager, { getIp: clientIpResolver({ hops: 1 }) });
    const server = http.createServer(async (req, res) => {
      const s = await sessions.load(req);
      await s.login('ada');
      await sessions.commit(s, res);
      res.end(JSON.stringify((await manager.listUserSessions('ada')).map((d) => d.ip)));
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const body = await new Promise<string>((ok, fail) => {
      http.get({ host: '127.0.0.1', port, headers: { 'x-forwarded-for': '6.6.6.6, 203.0.113.9' } }, (res) => {
        let b = '';
        res.on('data', (c) => (b += c)).on('end', () => ok(b));
      }).on('error', fail);
    });
    expect(JSON.parse(body)).toEqual(['203.0.113.9']);
  });
});
