/**
 * Fuzz budgets: a short run in `npm test` (seconds), a long one under `npm run fuzz`
 * (SESSIONWARD_FUZZ=long; together over a million cases). Each target logs how many cases it ran
 * in the long mode, so the count behind a "no finding" is on record.
 */
import { afterAll, vi } from 'vitest';

export const LONG = process.env.SESSIONWARD_FUZZ === 'long';

// A long target runs for minutes: the default 30 s per test would cut it off.
if (LONG) vi.setConfig({ testTimeout: 3_600_000 });

const ran = new Map<string, number>();
let reporting = false;

/** Runs for one target: `short` in `npm test`, `long` under `npm run fuzz`. */
export function fuzzRuns(target: string, short: number, long: number): number {
  const n = LONG ? long : short;
  ran.set(target, (ran.get(target) ?? 0) + n);
  if (!reporting) {
    reporting = true;
    afterAll(() => {
      let total = 0;
      for (const [t, c] of ran) {
        total += c;
        if (LONG) console.log(`fuzz ${t}: ${c} cases`);
      }
      if (LONG) console.log(`fuzz total in this file: ${total} cases`);
    });
  }
  return n;
}
