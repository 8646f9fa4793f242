/**
 * @internal The store latency histogram for prom-client, kept by hand. prom-client's own
 * `Histogram#observe` validates and hashes the label set on every call (about 220 ns here, half
 * of what timing a store call cost); a store call's labels are fixed when `instrumentStore` wraps
 * the method, so each (store, op) gets its series once and an observation is a bucket search and
 * three additions. The registry reads it through `registerMetric` and the metric's `get()`, the
 * same shape prom-client's own histograms return (its public `MetricObjectWithValues` type).
 */
interface Series {
  labels: { store: string; op: string };
  counts: Float64Array; // per bucket, not cumulative; the last slot is +Inf
  sum: number;
  count: number;
}

interface MetricValue {
  value: number;
  labels: Record<string, string | number>;
  metricName: string;
}

export class StoreLatencyHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly #series = new Map<string, Series>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly bounds: readonly number[],
  ) {}

  /** The observer of one (store, op): resolve once, call per store call. */
  observer(store: string, op: string): (seconds: number) => void {
    const key = `${store}\u0000${op}`;
    let s = this.#series.get(key);
    if (!s) {
      s = { labels: { store, op }, counts: new Float64Array(this.bounds.length + 1), sum: 0, count: 0 };
      this.#series.set(key, s);
    }
    const series = s;
    const bounds = this.bounds;
    return (seconds: number) => {
      // A clock that jumped or a NaN must not poison the sum: count it in the +Inf bucket only.
      if (!(seconds >= 0) || !Number.isFinite(seconds)) {
        series.counts[bounds.length]! += 1;
        series.count += 1;
        return;
      }
      let i = 0;
      while (i < bounds.length && seconds > bounds[i]!) i++;
      series.counts[i]! += 1;
      series.sum += seconds;
      series.count += 1;
    };
  }

  observe(store: string, op: string, seconds: number): void {
    this.observer(store, op)(seconds);
  }

  // The Registry calls get() at scrape time: cumulative buckets, then _sum and _count.
  async get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: MetricValue[] }> {
    const values: MetricValue[] = [];
    for (const s of this.#series.values()) {
      let acc = 0;
      for (let i = 0; i <= this.bounds.length; i++) {
        acc += s.counts[i]!;
        values.push({ value: acc, labels: { le: i < this.bounds.length ? this.bounds[i]! : '+Inf', ...s.labels }, metricName: `${this.name}_bucket` });
      }
      values.push({ value: s.sum, labels: { ...s.labels }, metricName: `${this.name}_sum` });
      values.push({ value: s.count, labels: { ...s.labels }, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  reset(): void {
    this.#series.clear();
  }
}
