/** One line of `npm run bench -- --json`. Extra numeric fields (sent, kept, commands...) are allowed. */
export interface BenchRow {
  scenario: string;
  subject: string;
  opsPerSec?: number;
  [key: string]: string | number | undefined;
}

export interface BenchContext {
  /** Seconds per HTTP measurement. */
  duration: number;
  /** Concurrent connections of the load generator. */
  connections: number;
  /** Emit a row as soon as it is measured. */
  report(row: BenchRow): void;
  /** Human-readable progress (stderr). */
  log(msg: string): void;
}

/** A scenario file in bench/scenarios exports `default` of this type. */
export type Scenario = (ctx: BenchContext) => Promise<void>;
