/**
 * The write side of the stack: bumps (local generations at once, then
 * Redis) and write-through (a bump, then the write's result stored as the
 * entry of its find-by-id read).
 * @module
 */
import type { Stats } from "../telemetry.js";
import type { LocalGenerations } from "../tiers/memory.js";
import type { RedisTier } from "../tiers/redis.js";
import type { BumpRead } from "../tiers/bumps.js";
import type { Fill } from "./fill.js";
import { type ReadRequest, snapshotDeps, timingOf } from "./request.js";
import type { StackObserver } from "./stack.js";

/**
 * How long a write's marks hold in Redis (versions.ts): what depends on a
 * write that never released them (its process died) is not filled for that
 * long. A write still running at half of it releases before it resolves.
 */
export const WRITE_WINDOW_MS = 10_000;

/** Bumps and write-through. */
export class Writes {
  constructor(
    private readonly l2: RedisTier | undefined,
    private readonly generations: LocalGenerations,
    private readonly stats: Stats,
    private readonly fill: Fill,
    private readonly observer: () => StackObserver | undefined,
  ) {}

  /**
   * Bumps dependency versions: locally at once (L1 entries that depend on them
   * stop being served), then in Redis. Resolves when Redis has them (or failed).
   */
  async bump(deps: readonly string[]): Promise<void> {
    if (deps.length > 0) await this.bumpBoth(deps, undefined);
  }

  /**
   * Write-through: bumps `deps` like {@link bump}, then stores `value` (the
   * write's result) as the entry of `req`. The versions it is stored under
   * are read in the same step as the bump, so a later write refuses the fill.
   */
  async bumpAndStore(deps: readonly string[], req: ReadRequest, value: unknown): Promise<void> {
    const snap = snapshotDeps(req);
    const gen = this.l2?.gen;
    const bumped = this.bumpBoth(deps, req.l2Id === undefined ? undefined : { id: req.l2Id, deps: snap });
    // Taken after the local bump (in bumpBoth), before Redis answers.
    const gens = this.generations.snapshot(snap);
    const clock = this.generations.clock;
    const versions = await bumped;
    const id = versions ? req.l2Id : undefined;
    const read = versions && id !== undefined ? snap.map((d) => versions.get(d) ?? "") : undefined;
    await this.fill.store({ req, load: () => Promise.resolve(value), snap, gens, clock, id, versions: read, gen }, value, timingOf(req, Date.now(), 0));
  }

  /** Whether a write may bump while it runs ({@link mark}): one Redis, no replicas, and the circuit closed. */
  get overlaps(): boolean {
    return this.l2?.marks === true && this.l2.available;
  }

  /**
   * A write starts: bumps `deps` locally at once, and in Redis with a write
   * mark each, which makes fills of what depends on them refuse until
   * {@link release}. Resolves whether Redis has the marks.
   */
  mark(deps: readonly string[]): Promise<boolean> {
    this.generations.bump(deps);
    const l2 = this.l2;
    return l2 ? this.inSpan(deps, () => l2.mark(deps, WRITE_WINDOW_MS)) : Promise.resolve(false);
  }

  /**
   * The write committed: bumps `deps` again, locally at once and in Redis,
   * releasing their marks. Resolves when Redis has it (or failed; then it is queued).
   */
  release(deps: readonly string[]): Promise<void> {
    this.generations.bump(deps);
    this.stats.invalidations += deps.length;
    const l2 = this.l2;
    return l2 ? this.inSpan(deps, () => l2.release(deps)) : Promise.resolve();
  }

  /**
   * Like {@link release}, but only the local bump happens now; Redis gets the
   * release with the next write's marks, or on the next turn of the event
   * loop if none comes first. Enough for a write whose
   * marks cover everything it changed: until the release lands, fills of what
   * depends on them refuse and entries stored before read as outdated.
   */
  releaseSoon(deps: readonly string[]): void {
    this.generations.bump(deps);
    this.stats.invalidations += deps.length;
    const l2 = this.l2;
    l2?.releaseSoon(deps);
  }

  /** Bumps locally at once, then in Redis (in a span when telemetry is on), reading `read`'s versions in the same step. */
  private bumpBoth(deps: readonly string[], read: BumpRead | undefined): Promise<Map<string, string> | undefined> {
    this.generations.bump(deps);
    this.stats.invalidations += deps.length;
    const l2 = this.l2;
    return l2 ? this.inSpan(deps, () => l2.bump(deps, read)) : Promise.resolve(undefined);
  }

  /** Runs a Redis bump of `deps`, in a span when telemetry is on. */
  private inSpan<T>(deps: readonly string[], run: () => Promise<T>): Promise<T> {
    const observer = this.observer();
    return observer ? observer.bump(deps, run) : run();
  }
}
