/**
 * The write side of a cache runtime: what each write bumps (from its
 * arguments, its result or its SQL), whether it may bump while it runs in
 * the database (write marks), and whether its result is stored as a read's
 * entry (write-through). The Prisma seam's query component asks it; the
 * stack's `Writes` carries the bumps out.
 * @module
 */
import type { ResolvedOptions } from "../config.js";
import type { SqlDialect } from "../deps/raw-sql.js";
import { knownBefore, rawWriteDeps, type WriteContext, writeDeps, writeDepsBefore } from "../deps/writes.js";
import type { Planner } from "./planner.js";
import type { ReadRequest } from "./request.js";
import { WRITE_WINDOW_MS, type Writes } from "./writes.js";

/** What each write bumps, and how. One per cache runtime. */
export class WriteDecisions {
  constructor(
    private readonly ctx: WriteContext,
    private readonly writes: Writes,
    private readonly planner: Planner,
    private readonly options: ResolvedOptions,
    /** Prisma's provider name (`postgresql`, `mysql`, `sqlite`, ...), when known. */
    private readonly provider: string | undefined,
  ) {}

  /**
   * Bumps what a write changed: L1 entries that depend on it stop being
   * served at once, then Redis. Resolves when Redis has the bump (or failed).
   */
  bump(deps: readonly string[]): Promise<void> {
    return this.writes.bump(deps);
  }

  /**
   * Whether this write may bump while it runs in the database ({@link mark},
   * {@link written}): what it changes is known before it runs, and Redis can
   * hold write marks.
   */
  overlaps(model: string | undefined, operation: string, args: Record<string, unknown> | undefined): boolean {
    // `$executeRaw` (no model) bumps what its SQL names, known before it runs.
    return this.writes.overlaps && (model === undefined || knownBefore(this.ctx, model, operation, args));
  }

  /** A write starts: bumps what it may change, with write marks (see tiers/versions.ts). Resolves whether Redis has them. */
  mark(deps: readonly string[]): Promise<boolean> {
    return this.writes.mark(deps);
  }

  /** The write failed in the database: its marks go (the extra bumps are harmless). */
  unmark(marked: Promise<boolean>, early: readonly string[]): void {
    void marked.then((ok) => (ok ? this.writes.release(early) : undefined));
  }

  /**
   * The write that marked `early` at `startedAt` (`performance.now()`)
   * resolved, having changed `deps`. Without the marks in Redis, an ordinary
   * bump of `deps`, waited for. With them, their release: in Redis just after
   * the write resolves when the marks covered `deps` and held long enough,
   * otherwise of everything, waited for.
   */
  async written(marked: Promise<boolean>, early: readonly string[], deps: readonly string[], startedAt: number): Promise<void> {
    if (!(await marked)) return this.writes.bump(deps);
    const marks = new Set(early);
    const covered = deps.every((d) => marks.has(d));
    if (covered && performance.now() - startedAt < WRITE_WINDOW_MS / 2) return this.writes.releaseSoon(early);
    return this.writes.release(covered ? early : [...new Set([...early, ...deps])]);
  }

  /** Write-through: bumps `deps`, then stores the write's result as the entry of `request` ({@link writeThrough}). */
  bumpAndStore(deps: readonly string[], request: ReadRequest, value: unknown): Promise<void> {
    return this.writes.bumpAndStore(deps, request, value);
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
    const plan = this.planner.plan(model, "findUnique", { where }, undefined);
    return plan && this.planner.complete(plan);
  }
}
