/** One line of `npm run bench -- --json`. Extra numeric fields (sent, kept, commands...) are allowed. */
export interface BenchRow {
  scenario: string;
  subject: string;
  opsPerSec?: number;
  /** Per-round raw figures (`cpuUsRounds`) are arrays. */
  [key: string]: string | number | number[] | undefined;
}

export interface BenchContext {
  /** Seconds per HTTP measurement. */
  duration: number;
  /** Concurrent connections of the load generator. */
  connections: number;
  /** Interleaved rounds per side-by-side comparison (the median is reported). */
  rounds: number;
  /** Whether rows of this scenario are wanted (`--scenario` narrows a run, e.g. for profiling). */
  wants(scenario: string): boolean;
  /** Whether this subject is wanted (`--subject` narrows a run, e.g. to profile one server). */
  wantsSubject(subject: string): boolean;
  /** Emit a row as soon as it is measured. */
  report(row: BenchRow): void;
  /** Human-readable progress (stderr). */
  log(msg: string): void;
}

/** A scenario file in bench/scenarios exports `default` of this type. */
export type Scenario = (ctx: BenchContext) => Promise<void>;
