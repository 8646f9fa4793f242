/**
 * The client's address behind reverse proxies the operator names (e.g. a `TRUST_PROXY` setting). Off by default:
 * `X-Forwarded-For` is whatever the client typed unless a proxy of ours wrote it, so without the
 * setting the socket address is the client. Behind a proxy the socket address is the proxy's,
 * shared by every visitor, and the per-address throttles would pool them all.
 *
 * @example
 * import { clientIpResolver, parseTrustProxy, nodeSessions } from 'sessionward/node'
 * const getIp = clientIpResolver(parseTrustProxy(process.env.TRUST_PROXY))   // '1': one proxy in front
 * nodeSessions(manager, { getIp })   // the same getIp for your own throttles and logs
 */
import { BlockList, isIP } from 'node:net';
import type { IncomingMessage } from 'node:http';
import { ConfigError } from '../errors.js';

/** How many proxies stand in front of the app, or which addresses (and CIDR ranges) are proxies. */
export type TrustProxy = { hops: number } | { addresses: string[] };

/**
 * A setting string (e.g. the `TRUST_PROXY` variable): unset, `0` or `false` = off; a count of hops;
 * or comma-separated addresses / CIDRs. Throws ConfigError on anything else.
 */
export function parseTrustProxy(raw: string | undefined): TrustProxy | undefined {
  const v = (raw ?? '').trim();
  if (v === '' || v === '0' || v === 'false') return undefined;
  if (/^\d+$/.test(v)) return { hops: Number(v) };
  const addresses = v.split(',').map((s) => s.trim()).filter(Boolean);
  // Validated now: a typo must stop the start, not silently trust nobody (or everybody).
  proxyList(addresses);
  return { addresses };
}

function proxyList(addresses: string[]): BlockList {
  const list = new BlockList();
  for (const a of addresses) {
    const [addr, bits, extra] = a.split('/');
    const type = isIP(addr ?? '');
    const prefix = bits === undefined ? null : Number(bits);
    if (type === 0 || extra !== undefined || (prefix !== null && !(Number.isInteger(prefix) && prefix >= 0 && prefix <= (type === 4 ? 32 : 128)))) {
      throw new ConfigError(`trust proxy: ${JSON.stringify(a)} is not an IP address or CIDR range (or give a hop count)`);
    }
    const family = type === 4 ? 'ipv4' : 'ipv6';
    if (prefix === null) list.addAddress(addr!, family);
    else list.addSubnet(addr!, prefix, family);
  }
  return list;
}

/** `::ffff:192.0.2.1` (an IPv4 peer on a dual-stack socket) is `192.0.2.1`. */
function plain(ip: string): string {
  return ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip;
}

function trusted(list: BlockList, ip: string): boolean {
  const type = isIP(ip);
  return type !== 0 && list.check(ip, type === 4 ? 'ipv4' : 'ipv6');
}

/**
 * `(req) => client address`. The chain is the socket address, then the `X-Forwarded-For`
 * entries from right (nearest hop) to left. With `hops: n` the n-th entry is the client; with
 * addresses, the first entry that is not a trusted proxy. An entry that is no IP address ends the
 * walk at the hop that wrote it: a proxy of ours appends a real address, so anything else came
 * from the client and is not believed.
 */
export function clientIpResolver(trust: TrustProxy | undefined): (req: IncomingMessage) => string | undefined {
  const socketIp = (req: IncomingMessage) => {
    const ip = req.socket?.remoteAddress;
    return ip === undefined ? undefined : plain(ip);
  };
  if (!trust) return socketIp;
  if ('hops' in trust && !(Number.isInteger(trust.hops) && trust.hops >= 0)) throw new ConfigError('trust proxy: hops must be a whole number >= 0');
  const list = 'addresses' in trust ? proxyList(trust.addresses) : null;
  return (req) => {
    let ip = socketIp(req);
    if (ip === undefined) return undefined;
    const header = req.headers['x-forwarded-for'];
    const hopsSeen = (Array.isArray(header) ? header.join(',') : (header ?? '')).split(',').map((s) => s.trim()).filter(Boolean).reverse();
    for (let i = 0; i < hopsSeen.length; i++) {
      if (list ? !trusted(list, ip) : i >= (trust as { hops: number }).hops) break;
      const next = plain(hopsSeen[i]!);
      if (isIP(next) === 0) break;
      ip = next;
    }
    return ip;
  };
}
