/**
 * What a command may print to, so commands run the same from the terminal and from tests. The
 * progress bar is given only when stdout is a terminal and the output is not `--json`.
 */
export interface CliIo {
  out: (s: string) => void;
  err: (s: string) => void;
  /** Progress updated in place; undefined when there must be none. */
  progress?: (done: number, total: number, label: string) => void;
}

/**
 * A one-line progress bar for a terminal (`\r` redraws it; `clear` removes it before output).
 *
 * @example
 * const bar = progressBar((s) => process.stdout.write(s)); bar.update(3, 10, 'sampling'); bar.clear()
 */
export function progressBar(write: (s: string) => void): { update: (done: number, total: number, label: string) => void; clear: () => void } {
  let shown = false;
  return {
    update(done, total, label) {
      const width = 24;
      const filled = total > 0 ? Math.round((Math.min(done, total) / total) * width) : 0;
      write(`\r[${'#'.repeat(filled)}${' '.repeat(width - filled)}] ${done}/${total} ${label}\x1b[K`);
      shown = true;
    },
    clear() {
      if (shown) write('\r\x1b[K');
      shown = false;
    },
  };
}
