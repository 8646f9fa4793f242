/**
 * @internal Jittered exponential backoff between compare-and-set retries: under contention an
 * immediate retry mostly loses again and costs a store round trip; spreading retries lets one
 * writer win per round. Nothing to wait for on the first two attempts.
 */
export function backoff(attempt: number): Promise<void> | void {
  if (attempt < 2) return;
  const cap = Math.min(1 << attempt, 32);
  const r = globalThis.crypto.getRandomValues(new Uint8Array(1))[0]! / 255;
  return new Promise((resolve) => setTimeout(resolve, Math.floor(r * cap)));
}
