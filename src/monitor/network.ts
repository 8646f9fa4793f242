/**
 * Coarse request fingerprints for anomaly detection. Deliberately coarse: a phone moving between
 * cell towers keeps its /24 (IPv4) or /64 (IPv6, one customer's network), and a browser update
 * keeps its family, so neither raises a signal on its own.
 */

/** The network an address belongs to: its /24 (IPv4) or /64 (IPv6); null when it is not an IP. */
export function networkOf(ip: string | null | undefined): string | null {
  if (typeof ip !== 'string' || ip.length > 64) return null;
  let a = ip.trim().toLowerCase();
  if (a.startsWith('::ffff:') && a.includes('.')) a = a.slice(7); // IPv4-mapped IPv6
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(a);
  if (v4) {
    const o = v4.slice(1, 4).map(Number);
    if (o.some((n) => n > 255) || Number(v4[4]) > 255) return null;
    return `${o.join('.')}.0/24`;
  }
  const pct = a.indexOf('%');
  if (pct >= 0) a = a.slice(0, pct); // zone id
  if (!/^[0-9a-f:]+$/.test(a) || !a.includes(':')) return null;
  const halves = a.split('::');
  if (halves.length > 2) return null;
  const head = halves[0] ? halves[0].split(':') : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const missing = 8 - head.length - tail.length;
  if (missing < 0 || (halves.length === 1 && missing !== 0)) return null;
  const groups = [...head, ...Array<string>(missing).fill('0'), ...tail];
  if (groups.some((g) => g.length === 0 || g.length > 4)) return null;
  return `${groups.slice(0, 4).map((g) => parseInt(g, 16).toString(16)).join(':')}::/64`;
}

/** Browser and OS family of a user agent, without versions: "chrome/linux". */
export function userAgentFamily(ua: string | null | undefined): string | null {
  if (typeof ua !== 'string' || ua === '') return null;
  const s = ua.slice(0, 512);
  const browser = /Edg\//.test(s)
    ? 'edge'
    : /OPR\//.test(s)
      ? 'opera'
      : /Firefox\//.test(s)
        ? 'firefox'
        : /Chrom(e|ium)\//.test(s)
          ? 'chrome'
          : /Version\/[\d.]+ .*Safari\//.test(s)
            ? 'safari'
            : (/^([A-Za-z][\w-]{0,20})/.exec(s)?.[1]?.toLowerCase() ?? 'other');
  const os = /Windows/.test(s)
    ? 'windows'
    : /iPhone|iPad|iPod/.test(s)
      ? 'ios'
      : /Android/.test(s)
        ? 'android'
        : /Mac OS X|Macintosh/.test(s)
          ? 'macos'
          : /CrOS/.test(s)
            ? 'chromeos'
            : /Linux/.test(s)
              ? 'linux'
              : 'other';
  return `${browser}/${os}`;
}

/** Great-circle distance in km (haversine), for impossible-travel checks. */
export function distanceKm(a: { lat: number; lon: number }, b: { lat: number; lon: number }): number {
  const rad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * rad;
  const dLon = (b.lon - a.lon) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * 6371 * Math.asin(Math.min(1, Math.sqrt(h)));
}
