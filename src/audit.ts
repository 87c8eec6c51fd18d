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
  /** Audit reads the rate bound allows now (a bucket of `maxPerSecond`, refilled continuously). */
  private tokens: number;
  private refilled = Date.now();
  private inFlight = 0;

  constructor(private readonly ctx: AuditContext) {
    this.tokens = ctx.maxPerSecond;
  }

  /**
   * Whether the next read may be audited if it is a hit: once the hits so far
   * allow one more at `sampleRate`, while the rate bound (`maxPerSecond`)
   * has room and fewer than {@link MAX_IN_FLIGHT} audit reads run.
   */
  due(): boolean {
    const { stats, sampleRate, maxPerSecond } = this.ctx;
    const hits = stats.l1Hits + stats.l2Hits;
    // After resetStats() the counters start again from 0.
    if (hits < this.seenHits) this.seenHits = 0;
    this.credit = Math.min(this.credit + (hits - this.seenHits) * sampleRate, 1 + sampleRate);
    this.seenHits = hits;
    if (this.credit < 1 || this.inFlight >= MAX_IN_FLIGHT) return false;
    const now = Date.now();
    this.tokens = Math.min(maxPerSecond, this.tokens + ((now - this.refilled) / 1000) * maxPerSecond);
    this.refilled = now;
    return this.tokens >= 1;
  }

  /** Audits `value`, served for `plan` as `outcome` says, if it was a hit. Never rejects. */
  check(plan: ReadPlan, load: Load, outcome: ReadOutcome, value: unknown): void {
    const { status, timing } = outcome;
    if ((status !== "l1" && status !== "l2" && status !== "stale") || timing === undefined) return;
    this.credit -= 1;
    this.tokens -= 1;
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
