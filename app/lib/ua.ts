/** A rough user-agent summary for the device list: "Chrome 126 on Linux". Not for decisions. */
export function describeUserAgent(ua: string | undefined): string {
  if (!ua) return 'Unknown device';
  const browser =
    match(ua, /Edg\/(\d+)/, 'Edge') ??
    match(ua, /OPR\/(\d+)/, 'Opera') ??
    match(ua, /Firefox\/(\d+)/, 'Firefox') ??
    match(ua, /HeadlessChrome\/(\d+)/, 'Headless Chrome') ??
    match(ua, /Chrom(?:e|ium)\/(\d+)/, 'Chrome') ??
    match(ua, /Version\/(\d+)[\d.]* .*Safari\//, 'Safari') ??
    match(ua, /^curl\/([\d]+)/, 'curl') ??
    match(ua, /^node(?:-fetch)?\b/, 'Node.js') ??
    (ua.length > 40 ? `${ua.slice(0, 40)}…` : ua);
  const os = /Windows/.test(ua)
    ? 'Windows'
    : /iPhone|iPad/.test(ua)
      ? 'iOS'
      : /Android/.test(ua)
        ? 'Android'
        : /Mac OS X|Macintosh/.test(ua)
          ? 'macOS'
          : /CrOS/.test(ua)
            ? 'ChromeOS'
            : /Linux/.test(ua)
              ? 'Linux'
              : null;
  return os ? `${browser} on ${os}` : browser;
}

function match(ua: string, re: RegExp, name: string): string | null {
  const m = re.exec(ua);
  if (!m) return null;
  return m[1] ? `${name} ${m[1]}` : name;
}
