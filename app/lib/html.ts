/**
 * A tiny HTML template tag: every interpolated value is escaped unless it is already `SafeHtml`
 * (the output of another `html` call). Views are plain functions returning `SafeHtml`, so an
 * unescaped string can only reach a page through `unsafeRaw`, which is greppable.
 *
 * @example
 * html`<p title="${user.name}">${user.email}</p>` // both escaped for text and quoted attributes
 */
export class SafeHtml {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '`': '&#96;' };

/** Escape text for HTML text and quoted attribute contexts. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"'`]/g, (c) => ESCAPES[c]!);
}

type Value = SafeHtml | string | number | boolean | null | undefined | readonly Value[];

function render(v: Value): string {
  if (v === null || v === undefined || v === false) return '';
  if (v instanceof SafeHtml) return v.value;
  if (Array.isArray(v)) return v.map(render).join('');
  return escapeHtml(String(v));
}

export function html(strings: TemplateStringsArray, ...values: Value[]): SafeHtml {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) out += render(values[i]!) + strings[i + 1]!;
  return new SafeHtml(out);
}

/** Trusted markup produced by code, never by input (e.g. the QR code SVG from the qrcode package). */
export function unsafeRaw(s: string): SafeHtml {
  return new SafeHtml(s);
}
