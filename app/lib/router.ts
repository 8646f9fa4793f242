/**
 * A tiny router: exact segments and `:params`, one handler per method and path. Enough for a
 * reference app, small enough to read in a minute.
 */
export type Method = 'GET' | 'POST';

export interface Route<H, O> {
  method: Method;
  /** As registered, e.g. `/admin/users/:id/revoke`. */
  path: string;
  segments: string[];
  handler: H;
  options: O;
}

export class Router<H, O> {
  private readonly routes: Route<H, O>[] = [];

  add(method: Method, path: string, handler: H, options: O): this {
    this.routes.push({ method, path, segments: path.split('/').filter(Boolean), handler, options });
    return this;
  }

  /** Every route, in registration order (tests walk them so a new page cannot miss a header). */
  list(): ReadonlyArray<Readonly<Route<H, O>>> {
    return this.routes;
  }

  /** `null`: no such path; `'method'`: the path exists for another method (405). */
  match(method: string, pathname: string): { route: Route<H, O>; params: Record<string, string> } | null | 'method' {
    const parts = pathname.split('/').filter(Boolean);
    let pathFound = false;
    for (const r of this.routes) {
      const params = matchSegments(r.segments, parts);
      if (!params) continue;
      pathFound = true;
      // HEAD is answered by the GET handler; node drops the body.
      if (r.method === method || (method === 'HEAD' && r.method === 'GET')) return { route: r, params };
    }
    return pathFound ? 'method' : null;
  }
}

function matchSegments(pattern: string[], parts: string[]): Record<string, string> | null {
  if (pattern.length !== parts.length) return null;
  const params: Record<string, string> = Object.create(null);
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i]!;
    const v = parts[i]!;
    if (p.startsWith(':')) {
      let decoded: string;
      try {
        decoded = decodeURIComponent(v);
      } catch {
        return null;
      }
      params[p.slice(1)] = decoded;
    } else if (p !== v) return null;
  }
  return params;
}
