/**
 * Timing primitives shared by the benchmark cases: per-call samples taken
 * with `process.hrtime.bigint()`, and their summary in microseconds.
 * @module
 */

/** Summary of one case's samples. Times in microseconds. */
export interface LatencySummary {
  /** Median (mean of the two middle samples for an even count). */
  medianUs: number;
  /** 99th percentile (nearest rank). */
  p99Us: number;
  meanUs: number;
  minUs: number;
  maxUs: number;
  /** Timed calls (warm-ups excluded). */
  iterations: number;
}

/** Collects per-call durations, in nanoseconds, across batches. */
export class Samples {
  private readonly ns: number[] = [];

  get count(): number {
    return this.ns.length;
  }

  /** Adds durations measured elsewhere (e.g. in a child process), in nanoseconds. */
  add(ns: readonly number[]): void {
    for (const v of ns) this.ns.push(v);
  }

  /** Times `n` sequential calls of `fn` (each awaited), one sample per call. */
  async time(fn: () => unknown, n: number): Promise<void> {
    const out = this.ns;
    for (let i = 0; i < n; i++) {
      const t0 = process.hrtime.bigint();
      await fn();
      const t1 = process.hrtime.bigint();
      out.push(Number(t1 - t0));
    }
  }

  /** Median, p99 and friends, in microseconds (3 decimals). */
  summary(): LatencySummary {
    const s = Float64Array.from(this.ns).sort();
    const n = s.length;
    if (n === 0) throw new Error("no samples");
    const us = (ns: number) => Math.round(ns) / 1000;
    const median = n % 2 === 1 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
    let sum = 0;
    for (let i = 0; i < n; i++) sum += s[i]!;
    return {
      medianUs: us(median),
      p99Us: us(s[Math.min(n - 1, Math.ceil(0.99 * n) - 1)]!),
      meanUs: us(sum / n),
      minUs: us(s[0]!),
      maxUs: us(s[n - 1]!),
      iterations: n,
    };
  }
}

/** Runs `fn` `n` times, untimed (JIT and cache warm-up). */
export async function warmUp(fn: () => unknown, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await fn();
}

/** `a / b` rounded to 2 decimals. */
export function ratio(a: number, b: number): number {
  return Math.round((a / b) * 100) / 100;
}
