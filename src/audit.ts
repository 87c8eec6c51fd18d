/**
 * The staleness audit (`audit: { sampleRate }`): a sampled cache hit is read
 * again from the database in the background, and the two values are
 * compared. A difference that no bump explains is counted and reported.
 * @module
 */
import { encode } from "./codec.js";
import type { Planner } from "./engine/planner.js";
import { type Load, type ReadOutcome, type ReadPlan, recordedDeps } from "./engine/request.js";
import type { CacheEvent } from "./events.js";
import type { Stats } from "./stats.js";
import type { LocalGenerations } from "./tiers/memory.js";

/** Audit reads running at once, at most: past it, a due hit is not audited (the credit stays for the next). */
const MAX_IN_FLIGHT = 4;

/** Start times a {@link RateWindow} keeps, at most (a higher rate is bounded over a window shorter than 1 s). */
const MAX_WINDOW_STARTS = 1024;

/**
 * A rate bound over a sliding window: at most `perSecond` starts in any
 * 1 s. It keeps the last k start times (k = `perSecond` rounded up, at
 * most {@link MAX_WINDOW_STARTS}) and allows a start when the oldest of
 * them is a window of k / `perSecond` s old: for a whole rate up to
 * 1,024, at most that many in any second; 0.5 is one in any 2 s; past
 * 1,024, at most 1,024 in any 1,024 / `perSecond` s. Times are in ms,
 * from a monotonic clock (a clock set back would pause it).
 */
export class RateWindow {
  private readonly starts: Float64Array;
  /** The slot of the oldest start kept (the next to replace). */
  private oldest = 0;
  private readonly windowMs: number;

  /** @throws {RangeError} unless `perSecond` is a finite number > 0. */
  constructor(perSecond: number) {
    if (!(perSecond > 0) || !Number.isFinite(perSecond)) throw new RangeError(`RateWindow: perSecond must be a finite number > 0, got ${perSecond}`);
    const k = Math.min(Math.ceil(perSecond), MAX_WINDOW_STARTS);
    this.starts = new Float64Array(k).fill(Number.NEGATIVE_INFINITY);
    this.windowMs = (1000 * k) / perSecond;
  }

  /** Whether a start at `now` keeps within the bound. */
  allows(now: number): boolean {
    return now - this.starts[this.oldest]! >= this.windowMs;
  }

  /** Records a start at `now` (after {@link allows} said yes). */
  take(now: number): void {
    this.starts[this.oldest] = now;
    this.oldest = (this.oldest + 1) % this.starts.length;
  }
}

/**
 * Longest wait for a bump on its way before a difference counts as
 * staleness. A bump reaches this process's L1 within milliseconds; a bus that
 * stopped delivering is noticed within `heartbeat`, and L1 is not served meanwhile.
 */
const MAX_LAG_WAIT_MS = 200;

/** What the audit works with. */
export interface AuditContext {
  /** Share of cache hits read again from the database (0 to 1). */
  readonly sampleRate: number;
  /** Most audit reads per second this process adds to the database. */
  readonly maxPerSecond: number;
  readonly stats: Stats;
  readonly planner: Planner;
  readonly generations: LocalGenerations;
  readonly emit: (event: CacheEvent) => void;
  /**
   * How long a write in another process may take to reach this process's L1
   * (the bus's bound, `heartbeat`), or 0 without Redis. A difference is
   * reported only if no bump of the entry's dependencies arrived within it
   * (at most {@link MAX_LAG_WAIT_MS}).
   */
  readonly lagMs: number;
}

/** Samples hits and compares them with the database. */
export class Audit {
  /**
   * Audits the hits so far allow (`sampleRate` per hit), not yet spent. It
   * starts at one, so that the first hit is audited.
   */
  private credit = 1;
  private seenHits = 0;
  /** The rate bound: at most `maxPerSecond` audit reads start in any second. */
  private readonly rate: RateWindow;
  private inFlight = 0;

  constructor(private readonly ctx: AuditContext) {
    this.rate = new RateWindow(ctx.maxPerSecond);
  }

  /**
   * Whether the next read may be audited if it is a hit: once the hits so far
   * allow one more at `sampleRate`, while the rate bound (`maxPerSecond`)
   * has room and fewer than {@link MAX_IN_FLIGHT} audit reads run.
   */
  due(): boolean {
    const { stats, sampleRate } = this.ctx;
    const hits = stats.l1Hits + stats.l2Hits;
    // After resetStats() the counters start again from 0.
    if (hits < this.seenHits) this.seenHits = 0;
    this.credit = Math.min(this.credit + (hits - this.seenHits) * sampleRate, 1 + sampleRate);
    this.seenHits = hits;
    return this.hasRoom(performance.now());
  }

  /** Whether one more audit may start at `now`: the hits allow one, fewer than {@link MAX_IN_FLIGHT} run, and the rate bound has room. */
  private hasRoom(now: number): boolean {
    return this.credit >= 1 && this.inFlight < MAX_IN_FLIGHT && this.rate.allows(now);
  }

  /**
   * Audits `value`, served for `plan` as `outcome` says, if it was a hit and
   * the bounds still have room (reads found due at once, as a batch's are,
   * take it in turn). Never rejects.
   */
  check(plan: ReadPlan, load: Load, outcome: ReadOutcome, value: unknown): void {
    const { status, timing } = outcome;
    if ((status !== "l1" && status !== "l2" && status !== "stale") || timing === undefined) return;
    const now = performance.now();
    if (!this.hasRoom(now)) return;
    this.rate.take(now);
    this.credit -= 1;
    this.inFlight++;
    const deps = recordedDeps(this.ctx.planner.complete(plan), value);
    const gens = this.ctx.generations.snapshot(deps);
    const cachedAge = Math.max(0, Date.now() - (timing.freshUntil - plan.ttlMs));
    const started = Date.now();
    void this.compare(plan, load, value, deps, gens, cachedAge, started).finally(() => this.inFlight--);
  }

  private async compare(
    plan: ReadPlan,
    load: Load,
    cached: unknown,
    deps: readonly string[],
    gens: number[],
    cachedAge: number,
    started: number,
  ): Promise<void> {
    let fresh: unknown;
    try {
      fresh = await load();
    } catch {
      return; // The database failing is not staleness.
    }
    this.ctx.stats.audits++;
    if (!this.ctx.generations.matches(deps, gens) || encode(fresh) === encode(cached)) return;
    // A write elsewhere may still be on its way: it is not staleness until the bus's bound passed without its bump.
    const wait = Math.min(this.ctx.lagMs, MAX_LAG_WAIT_MS);
    if (wait > 0) await new Promise((r) => setTimeout(r, wait).unref?.());
    if (!this.ctx.generations.matches(deps, gens)) return;
    this.ctx.stats.staleDetected++;
    this.ctx.emit({ type: "stale-detected", key: plan.l1Key, deps, cachedAge, databaseAge: Date.now() - started });
  }
}
