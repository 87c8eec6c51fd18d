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
import type { Stats } from "./telemetry.js";
import type { LocalGenerations } from "./tiers/memory.js";

/** Audit reads running at once, at most: past it, a due hit is not audited (the credit stays for the next). */
const MAX_IN_FLIGHT = 4;

/** What the audit works with. */
export interface AuditContext {
  /** Share of the database reads the cache makes that the audit may add (0 to 1). */
  readonly sampleRate: number;
  readonly stats: Stats;
  readonly planner: Planner;
  readonly generations: LocalGenerations;
  readonly emit: (event: CacheEvent) => void;
  /**
   * How long a write in another process may take to reach this process's L1
   * (the bus's bound, `heartbeat`), or 0 without Redis. A difference is
   * reported only if no bump of the entry's dependencies arrived within it.
   */
  readonly lagMs: number;
}

/** Samples hits and compares them with the database. */
export class Audit {
  /** Audit reads the database reads so far allow (`sampleRate` per miss), not yet spent. */
  private credit = 0;
  private seenMisses = 0;
  private inFlight = 0;

  constructor(private readonly ctx: AuditContext) {}

  /**
   * Whether the next read may be audited if it is a hit: true once the
   * database reads the cache made since the last audit allow one more at
   * `sampleRate` (so the audit never adds more than that share of load).
   */
  due(): boolean {
    const misses = this.ctx.stats.misses;
    // After resetStats() the counter starts again from 0.
    if (misses < this.seenMisses) this.seenMisses = 0;
    this.credit += (misses - this.seenMisses) * this.ctx.sampleRate;
    this.seenMisses = misses;
    return this.credit >= 1 && this.inFlight < MAX_IN_FLIGHT;
  }

  /** Audits `value`, served for `plan` as `outcome` says, if it was a hit. Never rejects. */
  check(plan: ReadPlan, load: Load, outcome: ReadOutcome, value: unknown): void {
    const { status, timing } = outcome;
    if ((status !== "l1" && status !== "l2" && status !== "stale") || timing === undefined) return;
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
    if (this.ctx.lagMs > 0) await new Promise((r) => setTimeout(r, this.ctx.lagMs).unref?.());
    if (!this.ctx.generations.matches(deps, gens)) return;
    this.ctx.stats.staleDetected++;
    this.ctx.emit({ type: "stale-detected", key: plan.l1Key, deps, cachedAge, databaseAge: Date.now() - started });
  }
}
