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
 */

let slotData: object | null = null;
let slotJson = '';

/** `JSON.parse(json)`, remembered as the text of the object it returns. */
export function parseData(json: string): Record<string, unknown> {
  const data = JSON.parse(json) as Record<string, unknown>;
  slotData = data;
  slotJson = json;
  return data;
}

/** Remember `json` (what JSON.stringify wrote for `data`) for the reader of `data`. */
export function noteData(data: object, json: string): void {
  slotData = data;
  slotJson = json;
}

/** The text `data` was parsed from, if the store that made it said so and nobody has taken it. */
export function takeJson(data: object): string | null {
  if (data !== slotData) return null;
  slotData = null;
  const json = slotJson;
  slotJson = '';
  return json;
}
