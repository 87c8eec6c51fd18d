/**
 * The planner: turns a model read or a cached raw read into a read request,
 * a plain value the stack runs (keys, ttl, swr, grace, and dependencies worked
 * out on a miss only, so that an L1 hit pays for none of it), or decides the
 * read is not cached (counted as a bypass, with its reason).
 * @module
 */
import { LRUCache } from "lru-cache";
import type { ResolvedOptions } from "../config.js";
import type { QueryCacheOption, RawCacheOptions } from "../options.js";
import { ALL_DEP, modelDep, type RelationGraph, tagDep } from "../deps/graph.js";
import { readDeps } from "../deps/reads.js";
import { newRowDep, type RowKeys } from "../deps/rows.js";
import { CacheUsageError } from "../errors.js";
import { canonicalize } from "../keys.js";
import type { BypassReason } from "../telemetry.js";
import type { ReadRequest } from "./request.js";

/** A read operation the cache answers. */
export type ReadOperation = "findUnique" | "findUniqueOrThrow" | "findFirst" | "findFirstOrThrow" | "findMany" | "count" | "aggregate" | "groupBy";

/** Each read's plain form: `*OrThrow` reads share entries with (and load through) their plain forms. */
export const PLAIN_OPERATION: Record<ReadOperation, ReadOperation> = {
  findUnique: "findUnique",
  findUniqueOrThrow: "findUnique",
  findFirst: "findFirst",
  findFirstOrThrow: "findFirst",
  findMany: "findMany",
  count: "count",
  aggregate: "aggregate",
  groupBy: "groupBy",
};

/** What the planner needs of the runtime. */
export interface PlannerContext {
  readonly options: ResolvedOptions;
  readonly graph: RelationGraph;
  readonly rows: RowKeys;
  /** Hashes an L1 key into its L2 key id (called on L2 use only). */
  l2Id(l1Key: string): string;
  /** Counts a read that is not cached. */
  bypass(reason: BypassReason): void;
}

const NONE: readonly string[] = Object.freeze([]);

/** Builds read requests. One per cache runtime. */
export class Planner {
  /**
   * What reads planned before worked out, by L1 key: their dependencies and L2
   * id (a pure function of the key), so repeated L2 hits and misses skip that work.
   */
  readonly plans = new LRUCache<string, Plan>({ max: 10_000 });
  private readonly tagsCache = new Map<string, readonly string[]>();

  /** The options and row keys, held directly: `plan` runs on every cached read, hits included. */
  private readonly options: ResolvedOptions;
  readonly rows: RowKeys;

  constructor(readonly ctx: PlannerContext) {
    this.options = ctx.options;
    this.rows = ctx.rows;
  }

  /**
   * Decides whether a read is cached and builds its request, or returns
   * undefined for a bypass (counted).
   * @throws {CacheUsageError} when the per-query `cache` option is malformed.
   */
  plan(model: string, operation: ReadOperation, args: Record<string, unknown> | undefined, cache: unknown, prefix = ""): ReadRequest | undefined {
    // No closure is made on the common path (no per-query option).
    const option = cache === undefined ? undefined : checkQueryOption(cache, () => `${model}.${operation}({ cache })`);
    const modelOptions = this.options.models[model];
    if (option === false || modelOptions?.cache === false) {
      this.ctx.bypass(option === false ? "cache-false" : "model-disabled");
      return undefined;
    }
    const ttl = option?.ttl ?? modelOptions?.ttl ?? this.options.ttl;
    if (!(ttl > 0)) {
      this.ctx.bypass("no-ttl");
      return undefined;
    }
    const keyOp = PLAIN_OPERATION[operation];
    // Per-query tags are part of the key: the same query with other tags is another entry.
    const tagged = option?.tags?.length ? `|t|${canonicalize([...option.tags].sort())}` : "";
    // The prefix holds what the client adds (scopes, computed fields); "" for a plain client.
    const l1Key =
      option?.key !== undefined
        ? `${prefix}${model}|${keyOp}|k|${JSON.stringify(option.key)}${tagged}`
        : `${prefix}${model}|${keyOp}|${canonicalize(args ?? {})}${tagged}`;
    const rowLookup = keyOp === "findUnique" && this.rows.has(model);
    const swr = option?.swr ?? modelOptions?.swr ?? this.options.swr;
    const grace = modelOptions?.grace ?? this.options.grace;
    return new PlannedRead(this, model, args, option?.tags, l1Key, ttl * 1000, swr * 1000, grace * 1000, rowLookup, option?.key === undefined);
  }

  /**
   * Plans a cached raw query: keyed by its SQL text and values, depending on
   * the models and tags it declares. Undefined when it is not cached (ttl 0).
   * @throws {CacheUsageError} naming an unknown model or a malformed option.
   */
  planRaw(sql: { strings: readonly string[]; values: readonly unknown[] }, options: RawCacheOptions, prefix = ""): ReadRequest | undefined {
    const where = "$queryRawCached(sql, options)";
    if (typeof sql !== "object" || sql === null || !Array.isArray(sql.strings) || !Array.isArray(sql.values)) {
      throw new CacheUsageError(`${where}: sql must be a Prisma.Sql object, e.g. Prisma.sql\`SELECT ...\``);
    }
    if (typeof options !== "object" || options === null) throw new CacheUsageError(`${where}: options must be an object { models, tags, ttl, key }`);
    const { models = [], ...rest } = options;
    if (!Array.isArray(models)) throw new CacheUsageError(`${where}: models must be an array of model names`);
    for (const m of models) {
      if (!this.ctx.graph.models.includes(m)) throw new CacheUsageError(`${where}: unknown model "${m}" (models: ${this.ctx.graph.models.join(", ")})`);
    }
    const option = checkQueryOption(rest, () => where) as QueryOption;
    const ttl = option.ttl ?? this.options.ttl;
    if (!(ttl > 0)) {
      this.ctx.bypass("no-ttl");
      return undefined;
    }
    // What the query declares it reads is part of the key, like its text and values.
    const declared = canonicalize([[...models].sort(), [...(option.tags ?? [])].sort()]);
    const l1Key =
      option.key !== undefined
        ? `${prefix}$raw|k|${JSON.stringify(option.key)}|${declared}`
        : `${prefix}$raw|${canonicalize([sql.strings, sql.values])}|${declared}`;
    // A raw read that names no model depends on the namespace as a whole.
    const deps = models.length ? [] : [ALL_DEP];
    for (const m of models) {
      deps.push(modelDep(m));
      for (const d of this.options.models[m]?.dependsOn ?? NONE) deps.push(modelDep(d));
    }
    for (const t of option.tags ?? NONE) deps.push(tagDep(t));
    const swrMs = (option.swr ?? this.options.swr) * 1000;
    return { l1Key, deps: [...new Set(deps)], ttlMs: ttl * 1000, swrMs, graceMs: this.options.grace * 1000, l2Id: () => this.ctx.l2Id(l1Key) };
  }

  /** Dependency ids of a read: models reached, tags, and the namespace. */
  readDeps(model: string, args: Record<string, unknown> | undefined, queryTags: readonly string[] | undefined, rowLookup: boolean): string[] {
    const tags = queryTags?.length ? [...this.modelTags(model), ...queryTags] : this.modelTags(model);
    return readDeps(this.ctx.graph, model, args, tags, (m) => this.options.models[m]?.dependsOn ?? NONE, rowLookup);
  }

  /** The tags configured for a model. */
  modelTags(model: string): readonly string[] {
    let tags = this.tagsCache.get(model);
    if (!tags) this.tagsCache.set(model, (tags = this.options.models[model]?.tags ?? NONE));
    return tags;
  }
}

/**
 * A cacheable read. Its dependencies and L2 id are worked out on a miss only,
 * so an L1 hit pays for none of it.
 */
/** What a read depends on and where it lives in L2; a pure function of its L1 key. */
interface Plan {
  readonly deps: readonly string[];
  /** Worked out the first time L2 is consulted. */
  l2Id: string | undefined;
  /** The row a unique lookup names by primary key, or null. */
  readonly pk: string | null;
}

class PlannedRead implements ReadRequest {
  private planMemo: Plan | undefined;

  constructor(
    private readonly planner: Planner,
    private readonly model: string,
    private readonly args: Record<string, unknown> | undefined,
    private readonly queryTags: readonly string[] | undefined,
    readonly l1Key: string,
    readonly ttlMs: number,
    readonly swrMs: number,
    readonly graceMs: number,
    /** A findUnique on a model with a known primary key: depends on its row, not the model. */
    private readonly rowLookup: boolean,
    /** The key is derived from the arguments (not a custom `key`), so its plan may be remembered. */
    private readonly memoizable: boolean,
  ) {}

  /** Dependencies, primary-key row and L2 id, remembered per key across calls. */
  private get plan(): Plan {
    if (this.planMemo) return this.planMemo;
    const cached = this.memoizable ? this.planner.plans.get(this.l1Key) : undefined;
    if (cached) return (this.planMemo = cached);
    const pk = (this.rowLookup && this.planner.rows.ofWhere(this.model, this.args?.where)) || null;
    const deps = this.planner.readDeps(this.model, this.args, this.queryTags, this.rowLookup);
    // By primary key: the row. (A row that appears bumps it, or b:M when unnamed.)
    if (pk) deps.push(pk);
    const plan: Plan = { deps, l2Id: undefined, pk };
    if (this.memoizable) this.planner.plans.set(this.l1Key, plan);
    return (this.planMemo = plan);
  }

  /** The row id a unique lookup names by primary key (null: by another unique key, or not a row lookup). */
  private get pk(): string | null {
    return this.plan.pk;
  }

  get deps(): readonly string[] {
    return this.plan.deps;
  }

  /**
   * A lookup by another unique key finds its row only when it runs: no write
   * to the model may land between the snapshot and the fill. (By primary key,
   * the row is known up front: a write that creates or changes it bumps it.)
   */
  get guards(): readonly string[] | undefined {
    return this.rowLookup && !this.pk ? [modelDep(this.model)] : undefined;
  }

  /** For a lookup by another unique key: the row found, or "a row may appear" when none was. */
  get lateDeps(): ((value: unknown) => readonly string[]) | undefined {
    if (!this.rowLookup || this.pk) return undefined;
    const { model, planner } = this;
    return (value) => (value === null ? [newRowDep(model)] : [planner.rows.ofRow(model, value) ?? modelDep(model)]);
  }

  l2Id(): string {
    const plan = this.plan;
    return (plan.l2Id ??= this.planner.ctx.l2Id(this.l1Key));
  }
}

type QueryOption = Exclude<QueryCacheOption, false>;

/** Validates the per-query `cache` option without allocating on the common path. */
function checkQueryOption(cache: unknown, label: () => string): QueryOption | false | undefined {
  if (cache === undefined) return undefined;
  if (cache === false) return false;
  const where = label();
  if (typeof cache !== "object" || cache === null || Array.isArray(cache)) {
    throw new CacheUsageError(`${where}: cache must be false or an object { ttl, swr, tags, key }, got ${cache === null ? "null" : typeof cache}`);
  }
  const c = cache as Record<string, unknown>;
  for (const k in c) {
    if (k !== "ttl" && k !== "swr" && k !== "tags" && k !== "key") throw new CacheUsageError(`${where}: unknown option "${k}" (allowed: ttl, swr, tags, key)`);
  }
  for (const k of ["ttl", "swr"] as const) {
    const v = c[k];
    if (v !== undefined && (typeof v !== "number" || !Number.isFinite(v) || v < 0))
      throw new CacheUsageError(`${where}: ${k} must be a number of seconds >= 0`);
  }
  if (c.tags !== undefined && (!Array.isArray(c.tags) || c.tags.some((t) => typeof t !== "string" || t === ""))) {
    throw new CacheUsageError(`${where}: tags must be an array of non-empty strings`);
  }
  if (c.key !== undefined && (typeof c.key !== "string" || c.key === "")) throw new CacheUsageError(`${where}: key must be a non-empty string`);
  return c as QueryOption;
}
