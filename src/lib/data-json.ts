/**
 * @internal The JSON text a store just parsed a record's data from, handed on to the manager that
 * asked for the record, so the session's change detection starts from that text instead of
 * serialising the same data again (issue 22: one JSON pass fewer on every read that looks at its
 * data, two fewer on a patched write; 10 data keys made that pass a third of the core's time).
 *
 * One slot, matched by object identity, never a map: a store call that resolves while another
 * request's record waits for its reader only overwrites the slot, and the waiting reader then
 * finds no text and serialises as before. The reader takes the text at once, in the same
 * synchronous step as it receives the record, so nothing can have changed the data in between.
 *
 * Only stores whose text is what JSON.stringify wrote use it (memory, SQLite, Redis; not
 * PostgreSQL, whose jsonb rewrites the text). Text that is not exactly that — a key order a store
 * script changed — is never wrong, only slower: the session then finds the data "changed", and its
 * per-key diff finds nothing to write. Imports nothing: lib/ sits below core/ and stores/.
 *
 * The write side (`noteWrite`/`takeWrite`) runs the other way: the core has serialised a record's
 * data for its size check and hands that text to the store it is calling, which takes it at the
 * start of the call, before its first await. Stale text here would store old data, so it is a
 * separate slot that only the core fills, right before the call, for data nobody else holds, and
 * empties again when the call returns: a store user's own get, change, update never meets it.
 */

/** One object and the JSON text of it, handed from one synchronous step to the next. */
class Slot {
  #data: object | null = null;
  #json = '';
  note(data: object, json: string): void {
    this.#data = data;
    this.#json = json;
  }
  take(data: object): string | null {
    if (data !== this.#data) return null;
    const json = this.#json;
    this.#data = null;
    this.#json = '';
    return json;
  }
}

const read = new Slot();
const write = new Slot();

/** `JSON.parse(json)`, remembered as the text of the object it returns. */
export function parseData(json: string): Record<string, unknown> {
  const data = JSON.parse(json) as Record<string, unknown>;
  read.note(data, json);
  return data;
}

/** Remember `json` (what JSON.stringify wrote for `data`) for the reader of `data`. */
export function noteData(data: object, json: string): void {
  read.note(data, json);
}

/** The text `data` was parsed from, if the store that made it said so and nobody has taken it. */
export function takeJson(data: object): string | null {
  return read.take(data);
}

/** Hand `json` (JSON.stringify's text of `data`, made for the size check) to the store about to write it. */
export function noteWrite(data: object, json: string): void {
  write.note(data, json);
}

/** The text the core made of `data` for the write in progress, once; null when it made none. */
export function takeWrite(data: object): string | null {
  return write.take(data);
}
