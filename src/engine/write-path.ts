/**
 * The write path, whole: what each write bumps (from its arguments, its
 * result or its SQL), how the bump meets the write (after it; before and at
 * commit inside an interactive transaction; or with write marks while it
 * runs), and write-through (the write's result stored as the entry of its
 * find-by-id read). The tiers carry the bumps out (tiers/redis.ts, the Redis
 * format of counters and marks in tiers/versions.ts); the Prisma seam
 * (prisma/query.ts) only says which write it is.
 * @module
 */
import type { ResolvedOptions } from "../config.js";
import type { SqlDialect } from "../deps/raw-sql.js";
import { selectKeys } from "../deps/select-keys.js";
import { knownBefore, rawWriteDeps, type WriteContext, writeDeps, writeDepsBefore } from "../deps/writes.js";
import type { Stats } from "../stats.js";
import type { BumpRead } from "../tiers/bumps.js";
import type { LocalGenerations } from "../tiers/memory.js";
import type { RedisTier } from "../tiers/redis.js";
import type { Fill } from "./fill.js";
import type { Planner } from "./planner.js";
import { type ReadRequest, snapshotDeps, timingOf } from "./request.js";
import type { PathObserver } from "./read-path.js";

/**
 * How long a write's marks hold in Redis (versions.ts): what depends on a
 * write that never released them (its process died) is not filled for that
 * long. A write still running at half of it releases before it resolves.
 */
export const WRITE_WINDOW_MS = 10_000;

/** One write, as the seam describes it. */
export interface Write {
  /** Runs the write in the database, with `args` when they differ from its own (keys added to its `select`). */
  run(args?: Record<string, unknown>): Promise<unknown>;
  /** What it may change, known before it runs. */
  before(): readonly string[];
  /** What it changed, from its result. */
  after(result: unknown): readonly string[];
  /** For write-through: the read whose entry its result is stored as (undefined when it does not qualify). */
  writeThrough?(result: unknown): ReadRequest | undefined;
  /** The model and operation, for deciding whether it may bump while it runs (`undefined` model: raw SQL). */
  readonly model: string | undefined;
  readonly operation: string;
  readonly args: Record<string, unknown> | undefined;
  /** Whether {@link run} honours other arguments (else keys are not added to its `select`). */
  readonly reshapes: boolean;
  /** Inside an interactive transaction: where what it changed is collected, bumped again at commit. */
  readonly transaction?: Set<string>;
}

/** The tiers a write reaches, and what it reports to. */
export interface WritePathTiers {
  readonly l2: RedisTier | undefined;
  readonly generations: LocalGenerations;
  readonly stats: Stats;
  readonly fill: Fill;
  readonly observer: () => PathObserver | undefined;
  /** How many reads of this process are past L1 and not done. */
  readonly readsInFlight: () => number;
}

/** The write path of one cache runtime. */
export class WritePath {
  /** Writes of this process running now (between their start and their bump). */
  private running = 0;

  constructor(
    private readonly ctx: WriteContext,
    private readonly tiers: WritePathTiers,
    private readonly planner: Planner,
    private readonly options: ResolvedOptions,
    /** Prisma's provider name (`postgresql`, `mysql`, `sqlite`, ...), when known. */
    private readonly provider: string | undefined,
  ) {}

  /**
   * Runs a write and bumps what it changed before it resolves. Inside an
   * interactive transaction it bumps what it may change first, and collects
   * what it changed for the commit. A write whose changes are known before
   * it runs bumps with write marks while it runs ({@link overlapped}).
   * `writeThroughAllowed` is asked once the write ran: whether its result may
   * be stored as the entry of a bare client's read.
   */
  async run(w: Write, writeThroughAllowed: () => boolean): Promise<unknown> {
    this.running++;
    try {
      return await this.runOne(w, writeThroughAllowed);
    } finally {
      this.running--;
    }
  }

  private async runOne(w: Write, writeThroughAllowed: () => boolean): Promise<unknown> {
    // A `select` that leaves out primary keys gets them, so that what the write changed is known by row; they are taken out again.
    const keyed = w.reshapes && w.model !== undefined && this.ctx.relations ? selectKeys(this.ctx.relations, w.model, w.args) : undefined;
    const exec = keyed ? () => w.run(keyed.args) : () => w.run();
    const shaped = (raw: unknown) => (keyed ? keyed.strip(raw) : raw);
    if (w.transaction) {
      const early = w.before();
      for (const d of early) w.transaction.add(d);
      await this.bump(early);
      const raw = await exec();
      for (const d of w.after(raw)) w.transaction.add(d);
      return shaped(raw);
    }
    if (!w.writeThrough && this.overlaps(w.model, w.operation, w.args)) return shaped(await this.overlapped(w, exec));
    const raw = await exec();
    const store = w.writeThrough && writeThroughAllowed() ? w.writeThrough(raw) : undefined;
    if (store) await this.bumpAndStore(w.after(raw), store, raw);
    else await this.bump(w.after(raw));
    return shaped(raw);
  }

  /**
   * A write whose bump runs while the database does: what it may change is
   * bumped with write marks first (fills of what depends on them refuse), the
   * query runs meanwhile, and once it resolves the marks are released by a
   * second bump: locally at once, in Redis just after the write resolves.
   * The release is waited for when the write changed more than it marked,
   * or took half the marks' window.
   */
  private async overlapped(w: Write, exec: () => Promise<unknown>): Promise<unknown> {
    const early = w.before();
    const started = performance.now();
    const marked = this.mark(early);
    // The marks go out on the socket before the query's own work keeps the event loop busy (node-redis flushes on the next turn).
    const flushed = this.tiers.l2?.flushed();
    if (flushed) await flushed;
    let result: unknown;
    try {
      result = await exec();
    } catch (err) {
      // The write failed in the database: its marks go (the extra bumps are harmless), before this process's next read.
      // Sent on the connection the marks went on, so after them, though their reply may not have come yet.
      this.releaseSoon(early);
      throw err;
    }
    const deps = w.after(result);
    if (!(await marked)) {
      await this.bump(deps);
      return result;
    }
    const marks = new Set(early);
    const covered = deps.every((d) => marks.has(d));
    if (covered && performance.now() - started < WRITE_WINDOW_MS / 2) this.releaseSoon(early);
    else await this.release(covered ? early : [...new Set([...early, ...deps])]);
    return result;
  }

  /**
   * Whether a write bumps while it runs: what it changes is known before it
   * runs, Redis can hold write marks (one Redis, no replicas, the circuit
   * closed), and nothing else of this process is under way. Marking and
   * releasing hides the bump's round trip behind the query, for two bump
   * scripts and two bus messages instead of one of each; while other reads
   * or writes of this process wait on Redis or the database, that round
   * trip is hidden by them anyway, and the write bumps once, after it runs.
   */
  private overlaps(model: string | undefined, operation: string, args: Record<string, unknown> | undefined): boolean {
    const l2 = this.tiers.l2;
    if (l2?.marks !== true || !l2.available || this.running > 1 || this.tiers.readsInFlight() > 0) return false;
    // `$executeRaw` (no model) bumps what its SQL names, known before it runs.
    return model === undefined || knownBefore(this.ctx, model, operation, args);
  }

  /**
   * Bumps dependency versions: locally at once (L1 entries that depend on them
   * stop being served), then in Redis. Resolves when Redis has them (or failed).
   */
  async bump(deps: readonly string[]): Promise<void> {
    if (deps.length > 0) await this.bumpBoth(deps, undefined);
  }

  /**
   * Bumps like {@link bump}, and resolves to whether Redis took the bump
   * (true without Redis): the change feed acknowledges a position only then.
   */
  async bumpTaken(deps: readonly string[]): Promise<boolean> {
    if (deps.length === 0) return true;
    const versions = await this.bumpBoth(deps, undefined);
    return this.tiers.l2 === undefined || versions !== undefined;
  }

  /**
   * Write-through: bumps `deps` like {@link bump}, then stores `value` (the
   * write's result) as the entry of `req`. The versions it is stored under
   * are read in the same step as the bump, so a later write refuses the fill.
   */
  private async bumpAndStore(deps: readonly string[], req: ReadRequest, value: unknown): Promise<void> {
    const { l2, generations, fill } = this.tiers;
    const snap = snapshotDeps(req);
    const gen = l2?.gen;
    const bumped = this.bumpBoth(deps, req.l2Id === undefined ? undefined : { id: req.l2Id, deps: snap });
    // Taken after the local bump (in bumpBoth), before Redis answers.
    const gens = generations.snapshot(snap);
    const clock = generations.clock;
    const versions = await bumped;
    const id = versions ? req.l2Id : undefined;
    const read = versions && id !== undefined ? snap.map((d) => versions.get(d) ?? "") : undefined;
    await fill.store({ req, load: () => Promise.resolve(value), snap, gens, clock, id, versions: read, gen }, value, timingOf(req, Date.now(), 0));
  }

  /**
   * A write starts: bumps `deps` locally at once, and in Redis with a write
   * mark each, which makes fills of what depends on them refuse until
   * {@link release}. Resolves whether Redis has the marks.
   */
  private mark(deps: readonly string[]): Promise<boolean> {
    this.tiers.generations.bump(deps);
    const l2 = this.tiers.l2;
    return l2 ? this.inSpan(deps, () => l2.mark(deps, WRITE_WINDOW_MS)) : Promise.resolve(false);
  }

  /**
   * The write committed: bumps `deps` again, locally at once and in Redis,
   * releasing their marks. Resolves when Redis has it (or failed; then it is queued).
   */
  private release(deps: readonly string[]): Promise<void> {
    const { l2, generations, stats } = this.tiers;
    generations.bump(deps);
    stats.invalidations += deps.length;
    return l2 ? this.inSpan(deps, () => l2.release(deps)) : Promise.resolve();
  }

  /**
   * Like {@link release}, but only the local bump happens now; Redis gets the
   * release with the next write's marks, before this process's next read, or
   * on the next turn of the event loop, whichever comes first. Enough for a
   * write whose marks cover everything it changed: until the release lands,
   * fills of what depends on them refuse and entries stored before read as
   * outdated.
   */
  private releaseSoon(deps: readonly string[]): void {
    const { l2, generations, stats } = this.tiers;
    generations.bump(deps);
    stats.invalidations += deps.length;
    l2?.releaseSoon(deps);
  }

  /** Bumps locally at once, then in Redis (in a span when telemetry is on), reading `read`'s versions in the same step. */
  private bumpBoth(deps: readonly string[], read: BumpRead | undefined): Promise<Map<string, string> | undefined> {
    const { l2, generations, stats } = this.tiers;
    generations.bump(deps);
    stats.invalidations += deps.length;
    return l2 ? this.inSpan(deps, () => l2.bump(deps, read)) : Promise.resolve(undefined);
  }

  /** Runs a Redis bump of `deps`, in a span when telemetry is on. */
  private inSpan<T>(deps: readonly string[], run: () => Promise<T>): Promise<T> {
    const observer = this.tiers.observer();
    return observer ? observer.bump(deps, run) : run();
  }

  /** Dependency ids a write bumps. */
  deps(model: string, operation: string, args: Record<string, unknown> | undefined, result: unknown): string[] {
    return writeDeps(this.ctx, model, operation, args, result);
  }

  /** Dependency ids to bump before a write runs (inside an interactive transaction, or with write marks). */
  depsBefore(model: string, operation: string, args: Record<string, unknown> | undefined): string[] {
    return writeDepsBefore(this.ctx, model, operation, args);
  }

  /** Dependency ids `$executeRaw` / `$executeRawUnsafe` bumps, from the SQL text. */
  rawDeps(sql: string): string[] {
    // The SQL is read in the database's dialect (MariaDB is "mysql"); a provider the parser does not know bumps everything.
    return rawWriteDeps(this.ctx, sql, (this.provider ?? "postgresql") as SqlDialect);
  }

  /** Whether `model` is configured with `invalidation: "write-through"`. */
  writesThrough(model: string): boolean {
    return this.options.models[model]?.invalidation === "write-through";
  }

  /**
   * For a model with `invalidation: "write-through"`: the canonical
   * find-by-primary-key read that a create/update/upsert result can be stored
   * as. Undefined when the write does not qualify (other operations, a
   * `select`/`include`/`omit` that changes the row's shape, no primary key in
   * the result, or no ttl).
   */
  writeThrough(model: string, operation: string, args: Record<string, unknown> | undefined, result: unknown): ReadRequest | undefined {
    if (!this.writesThrough(model)) return undefined;
    if (operation !== "create" && operation !== "update" && operation !== "upsert") return undefined;
    if (args?.select !== undefined || args?.include !== undefined || args?.omit !== undefined) return undefined;
    const where = this.ctx.rows.whereOf(model, result);
    if (!where) return undefined;
    const plan = this.planner.plan({ model, operation: "findUnique", args: { where } });
    return plan && this.planner.complete(plan);
  }
}
