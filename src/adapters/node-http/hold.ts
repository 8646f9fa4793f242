/**
 * @internal Hold a node:http response until the session is committed: the first of writeHead /
 * write / end / flushHeaders starts the (async) commit; that call and every later one are queued
 * and replayed in order once the session's headers are in place, so the cookie always goes out
 * with the head. Used by the Express adapter, whose apps write responses the session never sees.
 *
 * Cost matters here: this runs on every request. The patched methods are module-level functions
 * that find their state under a symbol (no closures per request), and the guards that make a held
 * response look sent (setHeader & co., `headersSent`, the socket's destroy) are only put in place
 * once the app has sealed the response, and never when the commit can be skipped.
 */
import { OutgoingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { failureReply, sendReply } from '../../lib/error-reply.js';
import { forgetSessionHeaders, setSessionHeaders, writeHeadKeeping, type WriteHead } from './headers.js';

type Fn = (this: unknown, ...a: unknown[]) => unknown;
type Headers = Array<[string, string]>;

export interface HoldOptions {
  /**
   * Synchronous check at the moment the app seals the response: true when the commit has nothing
   * to do (no write, no header), so the response goes out at once, unheld. Optional.
   */
  idle?: () => boolean;
  /** The commit: resolves to the session's headers, set on the response before it is replayed. */
  commit: () => Promise<Headers>;
  /** Told about a failed commit before the response is replaced by an error reply. */
  onError: (err: unknown) => void;
}

const HOLD = Symbol('sessionward.hold');
type Held = ServerResponse & { [HOLD]?: Hold };
type HeldSocket = Socket & { [HOLD]?: Hold | null };

/** Node's own `headersSent` getter (Express does not override it), looked up once. */
const HEADERS_SENT = Object.getOwnPropertyDescriptor(OutgoingMessage.prototype, 'headersSent')!.get! as (this: ServerResponse) => boolean;

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
  realSetHeader: Fn | null = null;
  realAppendHeader: Fn | null = null;
  realRemoveHeader: Fn | null = null;
  constructor(
    readonly res: ServerResponse,
    readonly o: HoldOptions,
    readonly writeHead: WriteHead,
    readonly write: Fn,
    readonly end: Fn,
    readonly flushHeaders: Fn,
  ) {}
}

export function headersSentError(): Error {
  return Object.assign(new Error('Cannot set headers after they are sent to the client'), { code: 'ERR_HTTP_HEADERS_SENT' });
}

/** Install the hold on `res` (once per request, before the app runs). */
export function holdResponse(res: ServerResponse, o: HoldOptions): void {
  const r = res as Held;
  r[HOLD] = new Hold(res, o, res.writeHead as WriteHead, res.write as Fn, res.end as Fn, res.flushHeaders as Fn);
  r.writeHead = heldWriteHead as never;
  r.write = heldWrite as never;
  r.end = heldEnd as never;
  r.flushHeaders = heldFlushHeaders;
}

function replayWriteHead(h: Hold, args: unknown[]): unknown {
  // writeHead, explicit or implicit (end/write), puts the session's headers back on top of the
  // app's (Set-Cookie appended, no-store kept: SEC-13).
  return writeHeadKeeping(h.res, h.writeHead, args);
}

function heldWriteHead(this: Held, ...args: unknown[]): unknown {
  const h = this[HOLD]!;
  if (h.phase === 2) return replayWriteHead(h, args);
  // A second writeHead after the response started fails as it would unheld (Express 4 and 5
  // both throw ERR_HTTP_HEADERS_SENT from res.set/res.status paths that reach here).
  if (h.sealed) throw headersSentError();
  if (seal(h)) return replayWriteHead(h, args);
  h.queue.push(() => replayWriteHead(h, args));
  return this;
}

function heldWrite(this: Held, ...args: unknown[]): unknown {
  const h = this[HOLD]!;
  if (h.phase === 2 || seal(h)) return h.write.apply(this, args);
  h.queue.push(() => h.write.apply(this, args));
  // While held the bytes sit in our queue: past the response's high-water mark write() says
  // "wait for drain", as an unheld response would, so a streamed body cannot pile up in memory
  // without bound behind a slow store. 'drain' follows once the queue has gone out.
  const chunk = args[0] as string | Uint8Array | undefined;
  h.queued += typeof chunk === 'string' ? Buffer.byteLength(chunk) : (chunk?.byteLength ?? 0);
  if (h.queued < this.writableHighWaterMark) return true;
  h.owesDrain = true;
  return false;
}

function heldEnd(this: Held, ...args: unknown[]): unknown {
  const h = this[HOLD]!;
  if (h.phase === 2 || seal(h)) return h.end.apply(this, args);
  h.queue.push(() => h.end.apply(this, args));
  return this;
}

function heldFlushHeaders(this: Held): void {
  const h = this[HOLD]!;
  if (h.phase === 2 || seal(h)) {
    h.flushHeaders.call(this);
    return;
  }
  h.queue.push(() => h.flushHeaders.call(this));
}

/**
 * The app's first head-sending call. True when nothing is held (already sealed calls queue behind
 * the first; an idle commit lets the call through at once); false when the call must be queued.
 */
function seal(h: Hold): boolean {
  if (h.sealed) return false;
  if (h.o.idle?.()) {
    h.phase = 2;
    return true;
  }
  const res = h.res;
  h.sealed = true;
  h.code = res.statusCode;
  h.message = res.statusMessage;
  guard(h);
  h.phase = 1;
  h.o.commit().then((headers) => done(h, headers), (err) => failed(h, err));
  return false;
}

/**
 * While held, the response must look sent to the app, as it would without the hold: a second
 * res.json()/res.send() then fails with Express's own "Cannot set headers after they are sent"
 * instead of rewriting the headers of the first response before it goes out.
 */
function guard(h: Hold): void {
  const res = h.res as Held & Record<string, unknown>;
  h.realSetHeader = res.setHeader as Fn;
  h.realAppendHeader = res.appendHeader as Fn;
  h.realRemoveHeader = res.removeHeader as Fn;
  res.setHeader = guardedSetHeader as never;
  if (typeof h.realAppendHeader === 'function') res.appendHeader = guardedAppendHeader as never;
  res.removeHeader = guardedRemoveHeader as never;
  // One shared getter: defining it with a fresh closure per request would give every response
  // its own hidden class (and every function touching it a megamorphic cache).
  Object.defineProperty(res, 'headersSent', HEADERS_SENT_DESCRIPTOR);
  // Express's final handler destroys the socket when an error follows a sent response (say a
  // second res.json()). Unheld, the first response has reached the socket by then; held, it is
  // still in our queue — so the destroy waits its turn behind it.
  const socket = res.socket as HeldSocket | null;
  // A socket still marked by an earlier request's hold has had its destroy wrapped by someone
  // else since: wrapping again would make the two call each other.
  if (socket && !socket[HOLD]) {
    h.socket = socket;
    h.realDestroy = socket.destroy as Fn;
    socket[HOLD] = h;
    socket.destroy = heldDestroy as never;
  }
}

function holding(h: Hold): boolean {
  return h.sealed && !h.applying && h.phase !== 2;
}
function guardedSetHeader(this: Held, ...args: unknown[]): unknown {
  const h = this[HOLD]!;
  if (holding(h)) throw headersSentError();
  return h.realSetHeader!.apply(this, args);
}
function guardedAppendHeader(this: Held, ...args: unknown[]): unknown {
  const h = this[HOLD]!;
  if (holding(h)) throw headersSentError();
  return h.realAppendHeader!.apply(this, args);
}
function guardedRemoveHeader(this: Held, ...args: unknown[]): unknown {
  const h = this[HOLD]!;
  if (holding(h)) throw headersSentError();
  return h.realRemoveHeader!.apply(this, args);
}
const HEADERS_SENT_DESCRIPTOR: PropertyDescriptor = {
  configurable: true,
  get(this: Held): boolean {
    const h = this[HOLD]!;
    return (h.sealed && !h.applying && h.phase !== 2) || HEADERS_SENT.call(this);
  },
};
function heldDestroy(this: HeldSocket, ...args: unknown[]): unknown {
  const h = this[HOLD];
  if (h && h.phase !== 2 && h.sealed) {
    h.queue.push(() => h.realDestroy!.apply(this, args));
    return this;
  }
  return (h ? h.realDestroy! : (Object.getPrototypeOf(this) as Socket).destroy).apply(this, args as []);
}

/** A keep-alive socket serves further requests: give it its own destroy back once this one is out. */
function releaseSocket(h: Hold): void {
  const socket = h.socket;
  if (!socket || socket[HOLD] !== h || socket.destroy !== (heldDestroy as never)) return;
  socket.destroy = h.realDestroy as never;
  socket[HOLD] = null;
}

function done(h: Hold, headers: Headers): void {
  const res = h.res;
  h.applying = true;
  try {
    if (!HEADERS_SENT.call(res)) setSessionHeaders(res, headers);
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
  h.o.onError(err);
  h.applying = true;
  try {
    replaceWithFailure(h.res, err, h.end);
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
