/**
 * @internal Hold a node:http response until the session is committed: the first of writeHead /
 * write / end / flushHeaders starts the (async) commit; that call and every later one are queued
 * and replayed in order once the session's headers are in place, so the cookie always goes out
 * with the head. Used by the Express adapter, whose apps write responses the session never sees.
 *
 * Cost matters here: this runs on every request. The wrappers are made once (per Express
 * response prototype, see holdResponse) and find a response's hold in a WeakMap; the socket's
 * destroy is only wrapped once the app has sealed the response, and a response whose commit has
 * nothing to do is never held at all (`idle`).
 */
import { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { failureReply, sendReply } from '../../lib/error-reply.js';
import { forgetSessionHeaders, setSessionHeaders, writeHeadKeeping, type WriteHead } from './headers.js';

type Fn = (this: unknown, ...a: unknown[]) => unknown;
type Headers = Array<[string, string]>;

/**
 * What a hold asks of its owner, for a context `C` (one request's state): made once per
 * middleware, so holding a response allocates no closures.
 */
export interface HoldHooks<C> {
  /**
   * Synchronous check at the moment the app seals the response: true when the commit has nothing
   * to do (no write, no header), so the response goes out at once, unheld. Optional.
   */
  idle?: (ctx: C) => boolean;
  /** The commit: resolves to the session's headers, set on the response before it is replayed. */
  commit: (ctx: C) => Promise<Headers>;
  /** Told about a failed commit before the response is replaced by an error reply. */
  onError: (ctx: C, err: unknown) => void;
}

/** The response methods a hold wraps, as the hold found them (what a held call finally reaches). */
interface Methods {
  writeHead: WriteHead;
  write: Fn;
  end: Fn;
  flushHeaders: Fn;
  setHeader: Fn;
  appendHeader: Fn | undefined;
  removeHeader: Fn;
  headersSent: (this: ServerResponse) => boolean;
}

/** The hold of each held response (a WeakMap: a new own property on an Express `res` costs microseconds). */
const HOLDS = new WeakMap<ServerResponse, Hold>();
/** Per response prototype (an Express app's `app.response`): the methods under the wrapped base, or null. */
const BASES = new WeakMap<object, Methods | null>();
type HeldSocket = Socket & { [SOCKET_HOLD]?: Hold | null };
const SOCKET_HOLD = Symbol('sessionward.hold');

/**
 * The `headersSent` getter `obj` inherits. Node defines it on OutgoingMessage.prototype; Bun's
 * ServerResponse defines its own, and OutgoingMessage's reads false there even after the head has
 * gone out — replaying a held response then wrote the head twice and crashed Bun (issue 22).
 */
function headersSentGetter(obj: object): (this: ServerResponse) => boolean {
  for (let p: object | null = obj; p !== null; p = Object.getPrototypeOf(p) as object | null) {
    const get = Object.getOwnPropertyDescriptor(p, 'headersSent')?.get;
    if (get) return get as (this: ServerResponse) => boolean;
  }
  return () => false;
}

class Hold {
  /** 0: not started, 1: committing, 2: done (calls pass straight through). */
  phase: 0 | 1 | 2 = 0;
  /** The app has called end() (or writeHead/write): for it, the headers are gone. */
  sealed = false;
  /** Our own commit is applying its headers (or its error reply). */
  applying = false;
  /** write() returned false while held: a 'drain' is owed. */
  owesDrain = false;
  /** Bytes queued by write() while held. */
  queued = 0;
  queue: Array<() => void> = [];
  /** Status line when the app sealed the response. */
  code = 0;
  message = '';
  socket: HeldSocket | null = null;
  realDestroy: Fn | null = null;
  constructor(
    readonly res: ServerResponse,
    readonly hooks: HoldHooks<any>,
    readonly ctx: unknown,
    /** What a held call reaches once the hold lets it through. */
    readonly next: Methods,
  ) {}
}

export function headersSentError(): Error {
  return Object.assign(new Error('Cannot set headers after they are sent to the client'), { code: 'ERR_HTTP_HEADERS_SENT' });
}

/**
 * Install the hold on `res` (once per request, before the app runs).
 *
 * On Express the wrappers live on Express's own response prototype (the object every app's
 * `app.response`, sub-apps' included, inherits from), put there once: per request only a WeakMap
 * entry marks the response as held. Patching seven methods onto each `res`, as this did before,
 * cost more CPU than the whole rest of a session read (issue 22): Express gives every `res` a new
 * prototype, and each own property added to such an object costs microseconds. Responses of
 * other frameworks, or before the prototype is wrapped, get the same wrappers as own properties.
 */
export function holdResponse<C>(res: ServerResponse, hooks: HoldHooks<C>, ctx: C): void {
  const proto = Object.getPrototypeOf(res) as object;
  let next = BASES.get(proto);
  if (next === undefined) {
    next = wrapBase(proto);
    BASES.set(proto, next);
    // Middleware that ran before us this time may have kept the unwrapped methods (compression
    // keeps `res.end`): this one response is held with own properties.
    if (next !== null) next = null;
  }
  if (next === null) {
    next = methodsOf(res);
    const own = wrappers(next);
    const r = res as unknown as Record<string, unknown>;
    r.writeHead = own.writeHead;
    r.write = own.write;
    r.end = own.end;
    r.flushHeaders = own.flushHeaders;
    r.setHeader = own.setHeader;
    if (next.appendHeader) r.appendHeader = own.appendHeader;
    r.removeHeader = own.removeHeader;
    Object.defineProperty(res, 'headersSent', { configurable: true, get: own.headersSent });
  }
  HOLDS.set(res, new Hold(res, hooks, ctx, next));
}

/** The methods `res` would call now (own patches of earlier middleware included). */
function methodsOf(res: ServerResponse): Methods {
  const r = res as unknown as Record<string, Fn>;
  return {
    writeHead: r.writeHead as unknown as WriteHead, write: r.write!, end: r.end!, flushHeaders: r.flushHeaders!,
    setHeader: r.setHeader!, appendHeader: typeof r.appendHeader === 'function' ? r.appendHeader : undefined, removeHeader: r.removeHeader!,
    headersSent: headersSentGetter(res),
  };
}

/**
 * Wrap Express's response prototype — the one every app's `app.response` inherits from, recognised
 * by its own `send` and `json` — once. Null when `proto` is not Express's (plain node:http, another
 * framework): those responses are held with own properties.
 */
function wrapBase(proto: object): Methods | null {
  let base: object | null = proto;
  while (base !== null && base !== ServerResponse.prototype && !(Object.prototype.hasOwnProperty.call(base, 'send') && Object.prototype.hasOwnProperty.call(base, 'json'))) {
    base = Object.getPrototypeOf(base) as object | null;
  }
  if (base === null || base === ServerResponse.prototype) return null;
  const b = base as Record<PropertyKey, unknown>;
  // Another response prototype above the same base (Express 4 and 5, two apps) finds it wrapped.
  if (b[WRAPPED]) return b[WRAPPED] as Methods;
  const parent = Object.getPrototypeOf(base) as ServerResponse;
  const next = methodsOf(parent);
  const w = wrappers(next);
  for (const name of ['writeHead', 'write', 'end', 'flushHeaders', 'setHeader', 'removeHeader'] as const) {
    Object.defineProperty(base, name, { value: w[name], writable: true, configurable: true, enumerable: false });
  }
  if (next.appendHeader) Object.defineProperty(base, 'appendHeader', { value: w.appendHeader, writable: true, configurable: true, enumerable: false });
  Object.defineProperty(base, 'headersSent', { get: w.headersSent, configurable: true, enumerable: false });
  Object.defineProperty(base, WRAPPED, { value: next });
  return next;
}
const WRAPPED = Symbol('sessionward.hold.wrapped');

/**
 * The wrappers, made once per set of underlying methods (per Express base, or per response on the
 * fallback path). A response without a hold, or whose hold is done, passes straight through.
 */
function wrappers(next: Methods) {
  return {
    writeHead(this: ServerResponse, ...args: unknown[]): unknown {
      const h = HOLDS.get(this);
      if (h === undefined) return next.writeHead.apply(this, args);
      if (h.phase === 2) return replayWriteHead(next, this, args);
      // A second writeHead after the response started fails as it would unheld (Express 4 and 5
      // both throw ERR_HTTP_HEADERS_SENT from res.set/res.status paths that reach here).
      if (h.sealed) throw headersSentError();
      if (seal(h)) return replayWriteHead(next, this, args);
      h.queue.push(() => replayWriteHead(next, this, args));
      return this;
    },
    write(this: ServerResponse, ...args: unknown[]): unknown {
      const h = HOLDS.get(this);
      if (h === undefined || h.phase === 2 || seal(h)) return next.write.apply(this, args);
      h.queue.push(() => next.write.apply(this, args));
      // While held the bytes sit in our queue: past the response's high-water mark write() says
      // "wait for drain", as an unheld response would, so a streamed body cannot pile up in
      // memory without bound behind a slow store. 'drain' follows once the queue has gone out.
      const chunk = args[0] as string | Uint8Array | undefined;
      h.queued += typeof chunk === 'string' ? Buffer.byteLength(chunk) : (chunk?.byteLength ?? 0);
      if (h.queued < this.writableHighWaterMark) return true;
      h.owesDrain = true;
      return false;
    },
    end(this: ServerResponse, ...args: unknown[]): unknown {
      const h = HOLDS.get(this);
      if (h === undefined || h.phase === 2 || seal(h)) return next.end.apply(this, args);
      h.queue.push(() => next.end.apply(this, args));
      return this;
    },
    flushHeaders(this: ServerResponse): void {
      const h = HOLDS.get(this);
      if (h === undefined || h.phase === 2 || seal(h)) {
        next.flushHeaders.call(this);
        return;
      }
      h.queue.push(() => next.flushHeaders.call(this));
    },
    // While held, the response must look sent to the app, as it would without the hold: a second
    // res.json()/res.send() then fails with Express's own "Cannot set headers after they are
    // sent" instead of rewriting the headers of the first response before it goes out.
    setHeader(this: ServerResponse, ...args: unknown[]): unknown {
      if (holding(HOLDS.get(this))) throw headersSentError();
      return next.setHeader.apply(this, args);
    },
    appendHeader(this: ServerResponse, ...args: unknown[]): unknown {
      if (holding(HOLDS.get(this))) throw headersSentError();
      return next.appendHeader!.apply(this, args);
    },
    removeHeader(this: ServerResponse, ...args: unknown[]): unknown {
      if (holding(HOLDS.get(this))) throw headersSentError();
      return next.removeHeader.apply(this, args);
    },
    headersSent(this: ServerResponse): boolean {
      return holding(HOLDS.get(this)) || next.headersSent.call(this);
    },
  };
}

function holding(h: Hold | undefined): boolean {
  return h !== undefined && h.sealed && !h.applying && h.phase !== 2;
}

/**
 * writeHead, explicit or implicit (end/write), puts the session's headers back on top of the app's
 * (Set-Cookie appended, no-store kept: SEC-13). `next`: the layer's own (an own-property hold may
 * sit on top of the prototype's, whose wrappers then pass straight through).
 */
function replayWriteHead(next: Methods, res: ServerResponse, args: unknown[]): unknown {
  return writeHeadKeeping(res, next.writeHead, args);
}

/**
 * The app's first head-sending call. True when nothing is held (an idle commit lets the call
 * through at once); false when the call must be queued (the commit has started).
 */
function seal(h: Hold): boolean {
  if (h.sealed) return false;
  if (h.hooks.idle?.(h.ctx)) {
    h.phase = 2;
    return true;
  }
  const res = h.res;
  h.sealed = true;
  h.code = res.statusCode;
  h.message = res.statusMessage;
  holdSocket(h);
  h.phase = 1;
  h.hooks.commit(h.ctx).then((headers) => done(h, headers), (err) => failed(h, err));
  return false;
}

/**
 * Express's final handler destroys the socket when an error follows a sent response (say a second
 * res.json()). Unheld, the first response has reached the socket by then; held, it is still in our
 * queue — so the destroy waits its turn behind it.
 */
function holdSocket(h: Hold): void {
  const socket = h.res.socket as HeldSocket | null;
  // A socket still marked by an earlier request's hold has had its destroy wrapped by someone
  // else since: wrapping again would make the two call each other.
  if (!socket || socket[SOCKET_HOLD]) return;
  h.socket = socket;
  h.realDestroy = socket.destroy as Fn;
  socket[SOCKET_HOLD] = h;
  socket.destroy = heldDestroy as never;
}

function heldDestroy(this: HeldSocket, ...args: unknown[]): unknown {
  const h = this[SOCKET_HOLD];
  if (h && h.phase !== 2 && h.sealed) {
    h.queue.push(() => h.realDestroy!.apply(this, args));
    return this;
  }
  return (h ? h.realDestroy! : (Object.getPrototypeOf(this) as Socket).destroy).apply(this, args as []);
}

/** A keep-alive socket serves further requests: give it its own destroy back once this one is out. */
function releaseSocket(h: Hold): void {
  const socket = h.socket;
  if (!socket || socket[SOCKET_HOLD] !== h || socket.destroy !== (heldDestroy as never)) return;
  socket.destroy = h.realDestroy as never;
  socket[SOCKET_HOLD] = null;
}

function done(h: Hold, headers: Headers): void {
  const res = h.res;
  h.applying = true;
  try {
    if (!h.next.headersSent.call(res)) setSessionHeaders(res, headers);
  } finally {
    h.applying = false;
  }
  h.phase = 2;
  // A status set after the app ended the response is ignored unheld (the head is gone); held, it
  // would still reach the head, so the one the app ended with is put back.
  res.statusCode = h.code;
  res.statusMessage = h.message;
  for (const f of h.queue.splice(0)) f();
  releaseSocket(h);
  // A writer told to wait gets its 'drain' now, unless the socket itself is full (then Node emits
  // it when the socket drains).
  if (h.owesDrain && !res.writableNeedDrain && !res.writableEnded) res.emit('drain');
}

function failed(h: Hold, err: unknown): void {
  h.phase = 2;
  h.queue.length = 0;
  releaseSocket(h);
  h.hooks.onError(h.ctx, err);
  h.applying = true;
  try {
    replaceWithFailure(h.res, err, h.next.end);
  } finally {
    h.applying = false;
  }
}

/**
 * Replace whatever the app prepared with the error reply (src/lib/error-reply.ts): status and
 * stable code only, plus what the error needs the client to know (Retry-After, a cookie to clear).
 * `end` is the response's own end when a hold must be bypassed.
 */
export function replaceWithFailure(res: ServerResponse, err: unknown, end: Fn = res.end as Fn): void {
  if (!res.headersSent) {
    forgetSessionHeaders(res);
    for (const name of res.getHeaderNames()) res.removeHeader(name);
  }
  sendReply(res, failureReply(err), end);
}
