/**
 * The planner: turns a model read or a cached raw read into a read plan, a
 * data object (its L1 key, ttl, swr and grace), or decides the read is not
 * cached (counted as a bypass, with its reason). On an L1 miss it completes
 * the plan into a read request (dependencies and L2 key, worked out then
 * only, so that an L1 hit pays for none of it).
 * @module
 */
import { LRUCache } from "lru-cache";
import type { ResolvedOptions } from "../config.js";
import type { QueryCacheOption, RawCacheOptions } from "../options.js";
import type { RelationGraph } from "../deps/graph.js";
import { ALL_DEP, modelDep, tagDep } from "../deps/ids.js";
import { readDeps } from "../deps/reads.js";
import type { KeyedSelect } from "../deps/select-keys.js";
import type { ReadDependencies } from "../deps/selection.js";
import type { RowKeys } from "../deps/rows.js";
import { CacheUsageError } from "../errors.js";
import { Bypass, CACHE_FALSE, NO_TTL } from "./bypass.js";
import { canonicalize } from "../keys.js";
import { type OpCounters, RAW_MODEL, type Stats } from "../stats.js";
import { KeyMemo } from "./key-memo.js";
import type { Keyspace } from "./keyspace.js";
import type { ReadPlan, ReadRequest } from "./request.js";

/** A read operation the cache answers. */
export type ReadOperation = "findUnique" | "findUniqueOrThrow" | "findFirst" | "findFirstOrThrow" | "findMany" | "count" | "aggregate" | "groupBy";

/** Each read's base operation: `*OrThrow` reads share entries with (and load through) `findUnique` and `findFirst`. */
export const BASE_OPERATION: Record<ReadOperation, ReadOperation> = {
  findUnique: "findUnique",
  findUniqueOrThrow: "findUnique",
  findFirst: "findFirst",
  findFirstOrThrow: "findFirst",
  findMany: "findMany",
  count: "count",
  aggregate: "aggregate",
  groupBy: "groupBy",
};

/** A model read as called: what {@link Planner.plan} keys and decides on. */
export interface ModelRead {
  readonly model: string;
  readonly operation: ReadOperation;
  /** Its arguments, without the per-query option. */
  readonly args: Record<string, unknown> | undefined;
  /** The per-query `cache` option, not checked yet; undefined when the read has none. */
  readonly cache?: unknown;
}

/** How {@link Planner.plan} keys and counts a read. */
export interface PlanOptions {
  /** The key prefix of the client the read runs through (scopes, computed fields); "" by default. */
  readonly prefix?: string;
  /** The counters of the read's model and operation: callers on the hot path pass the ones they hold. */
  readonly counters?: OpCounters;
  /** {@link Planner.memo}`(prefix, model, operation)`, when the caller holds it. */
  readonly memo?: KeyMemo | undefined;
}

/** What the planner works with. */
export interface PlannerContext {
  readonly options: ResolvedOptions;
  readonly graph: RelationGraph;
  readonly rows: RowKeys;
  /** Forms L2 key ids. */
  readonly keyspace: Keyspace;
  /** Where bypasses are counted. */
  readonly stats: Stats;
  /** Precise dependencies (selection.ts); undefined: every read depends on the models it reaches. */
  readonly precise?: ReadDependencies | undefined;
}

const NONE: readonly string[] = Object.freeze([]);

/** What a read depends on and where it lives in L2; a pure function of its L1 key. */
interface Worked {
  readonly deps: readonly string[];
  readonly guards: readonly string[] | undefined;
  readonly lateDeps: ((value: unknown) => readonly string[]) | undefined;
  readonly keyed?: KeyedSelect | undefined;
  /** Worked out the first time L2 keys can be formed. */
  l2Id: string | undefined;
}

/** Builds read plans, and completes them into read requests on a miss. One per cache runtime. */
export class Planner {
  /**
   * What reads planned before worked out, by L1 key: their dependencies and L2
   * id (a pure function of the key), so repeated L2 hits and misses skip that work.
   */
  private readonly worked = new LRUCache<string, Worked>({ max: 10_000 });
  private readonly tagsCache = new Map<string, readonly string[]>();
  private readonly memos = new Map<string, KeyMemo>();

  /** The options and row keys, held directly: `plan` runs on every cached read, hits included. */
  private readonly options: ResolvedOptions;
  private readonly rows: RowKeys;

  constructor(private readonly ctx: PlannerContext) {
    this.options = ctx.options;
    this.rows = ctx.rows;
  }

  private raw: OpCounters | undefined;
  /** The counters of cached raw reads (made on the first one, so that stats().byModel lists only what was read). */
  get rawCounters(): OpCounters {
    this.raw ??= this.ctx.stats.of(RAW_MODEL, "queryRaw");
    return this.raw;
  }

  /**
   * The key memo of reads of `model` by `operation` under a fixed key
   * `prefix` (shared by an operation and its `OrThrow` form). Callers hold it
   * and pass it to {@link plan}.
   */
  memo(prefix: string, model: string, operation: ReadOperation): KeyMemo {
    const id = `${model}|${BASE_OPERATION[operation]}|${prefix}`;
    let m = this.memos.get(id);
    if (m === undefined) this.memos.set(id, (m = new KeyMemo()));
    return m;
  }

  /**
   * Decides whether a read is cached and builds its plan, or returns
   * undefined for a bypass (counted in `options.counters`, by default the
   * stats' own of the read's model and operation).
   * @throws {CacheUsageError} when the per-query `cache` option is malformed.
   */
  plan(read: ModelRead, options: PlanOptions = {}): ReadPlan | undefined {
    const counters = options.counters ?? this.ctx.stats.of(read.model, read.operation);
    const decided = this.decide(read, { ...options, counters });
    if (!(decided instanceof Bypass)) return decided;
    this.ctx.stats.bypass(decided.reason, counters);
    return undefined;
  }

  /**
   * {@link plan}'s decision, counting nothing: the read's plan, or why it is
   * not cached. The read path and `$cache.explain` both decide through it.
   * `options.counters` go into the plan.
   * @throws {CacheUsageError} when the per-query `cache` option is malformed.
   */
  decide(read: ModelRead, options: PlanOptions & { readonly counters: OpCounters }): ReadPlan | Bypass {
    const { model, operation, args, cache } = read;
    const { prefix = "", counters, memo } = options;
    // No closure is made on the common path (no per-query option).
    const option = cache === undefined ? undefined : checkQueryOption(cache, () => `${model}.${operation}({ cache })`);
    const modelOptions = this.options.models[model];
    if (option === false) return CACHE_FALSE;
    if (modelOptions?.cache === false) return new Bypass("model-disabled", `reads of ${model} are not cached (models.${model}.cache is false)`);
    const ttl = option?.ttl ?? modelOptions?.ttl ?? this.options.ttl;
    if (!(ttl > 0)) return NO_TTL;
    const keyOp = BASE_OPERATION[operation];
    // Per-query tags are part of the key: the same query with other tags is another entry.
    const tagged = option?.tags?.length ? `|t|${canonicalize([...option.tags].sort())}` : "";
    // The prefix holds what the client adds (scopes, computed fields); "" for a bare client.
    let l1Key: string | undefined;
    if (option?.key !== undefined) l1Key = `${prefix}${model}|${keyOp}|k|${JSON.stringify(option.key)}${tagged}`;
    else if (memo !== undefined && tagged === "") {
      const hash = memo.hash(args);
      if (hash !== -1) {
        l1Key = memo.get(hash, args);
        if (l1Key === undefined) memo.remember(hash, args, (l1Key = `${prefix}${model}|${keyOp}|${canonicalize(args ?? {})}`));
      }
    }
    l1Key ??= `${prefix}${model}|${keyOp}|${canonicalize(args ?? {})}${tagged}`;
    return {
      l1Key,
      ttlMs: ttl * 1000,
      swrMs: (option?.swr ?? modelOptions?.swr ?? this.options.swr) * 1000,
      graceMs: (modelOptions?.grace ?? this.options.grace) * 1000,
      model,
      args,
      tags: option?.tags,
      rowLookup: keyOp === "findUnique" && this.rows.has(model),
      operation: keyOp,
      memoizable: option?.key === undefined,
      declared: undefined,
      counters,
    };
  }

  /**
   * Plans a cached raw query: keyed by its SQL text and values, depending on
   * the models and tags it declares. Undefined when it is not cached (ttl 0).
   * @throws {CacheUsageError} naming an unknown model or a malformed option.
   */
  planRaw(sql: { strings: readonly string[]; values: readonly unknown[] }, options: RawCacheOptions, prefix = ""): ReadPlan | undefined {
    const decided = this.decideRaw(sql, options, prefix);
    if (!(decided instanceof Bypass)) return decided;
    this.ctx.stats.bypass(decided.reason, this.rawCounters);
    return undefined;
  }

  /**
   * {@link planRaw}'s decision, counting nothing: the plan, or why it is not
   * cached. `counters` go into the plan (the raw reads' own by default).
   * @throws {CacheUsageError} naming an unknown model or a malformed option.
   */
  decideRaw(
    sql: { strings: readonly string[]; values: readonly unknown[] },
    options: RawCacheOptions,
    prefix: string,
    counters?: OpCounters,
  ): ReadPlan | Bypass {
    const where = "$queryRawCached(sql, options)";
    if (typeof sql !== "object" || sql === null || !Array.isArray(sql.strings) || !Array.isArray(sql.values)) {
      throw new CacheUsageError(`${where}: sql must be a Prisma.Sql object, e.g. Prisma.sql\`SELECT ...\``);
    }
    if (typeof options !== "object" || options === null) throw new CacheUsageError(`${where}: options must be an object { models, tags, ttl, key }`);
    const { models = [], ...rest } = options;
    const option = checkQueryOption(rest, () => where) as QueryOption;
    const declared = this.declared(where, models, option.tags);
    const ttl = option.ttl ?? this.options.ttl;
    if (!(ttl > 0)) return NO_TTL;
    // What the query declares it reads is part of the key, like its text and values.
    const l1Key =
      option.key !== undefined
        ? `${prefix}$raw|k|${JSON.stringify(option.key)}|${declared.key}`
        : `${prefix}$raw|${canonicalize([sql.strings, sql.values])}|${declared.key}`;
    return {
      l1Key,
      ttlMs: ttl * 1000,
      swrMs: (option.swr ?? this.options.swr) * 1000,
      graceMs: this.options.grace * 1000,
      model: undefined,
      args: undefined,
      tags: option.tags,
      rowLookup: false,
      operation: undefined,
      // Its dependencies follow from what it declares, which is part of its key.
      memoizable: true,
      declared: declared.deps,
      counters: counters ?? this.rawCounters,
    };
  }

  /**
   * What a read that declares what it reads (`$queryRawCached`, `$cache.wrap`)
   * depends on: each model (and the models it `dependsOn`) and each tag, or
   * the namespace as a whole when it names no model; and the canonical text
   * of the declaration, for its key.
   * @throws {CacheUsageError} when `models` is not an array of the schema's model names.
   */
  declared(where: string, models: unknown, tags: readonly string[] | undefined): { deps: readonly string[]; key: string } {
    if (!Array.isArray(models)) throw new CacheUsageError(`${where}: models must be an array of model names`);
    for (const m of models) {
      if (!this.ctx.graph.models.includes(m))
        throw new CacheUsageError(`${where}: unknown model ${JSON.stringify(m)} (models: ${this.ctx.graph.models.join(", ")})`);
    }
    const deps = models.length ? [] : [ALL_DEP];
    for (const m of models as string[]) {
      deps.push(modelDep(m));
      for (const d of this.options.models[m]?.dependsOn ?? NONE) deps.push(modelDep(d));
    }
    for (const t of tags ?? NONE) deps.push(tagDep(t));
    return { deps: [...new Set(deps)], key: canonicalize([[...models].sort(), [...(tags ?? [])].sort()]) };
  }

  /**
   * Completes a plan after an L1 miss: its dependencies (models reached,
   * tags, the row of a lookup by primary key) and, once L2 keys can be
   * formed, its L2 key id. Remembered per L1 key.
   */
  complete(plan: ReadPlan): ReadRequest {
    const { l1Key } = plan;
    let w = plan.memoizable ? this.worked.get(l1Key) : undefined;
    if (w === undefined) {
      w = this.work(plan);
      if (plan.memoizable) this.worked.set(l1Key, w);
    }
    if (w.l2Id === undefined && this.ctx.keyspace.keyed()) w.l2Id = this.ctx.keyspace.id(l1Key);
    const { ttlMs, swrMs, graceMs, counters } = plan;
    return { l1Key, l2Id: w.l2Id, deps: w.deps, guards: w.guards, lateDeps: w.lateDeps, keyed: w.keyed, ttlMs, swrMs, graceMs, counters };
  }

  private work(plan: ReadPlan): Worked {
    const { model } = plan;
    if (model === undefined) return { deps: plan.declared ?? [ALL_DEP], guards: undefined, lateDeps: undefined, l2Id: undefined };
    const pk = (plan.rowLookup && this.rows.ofWhere(model, plan.args?.where)) || undefined;
    const precise = this.ctx.precise;
    if (precise) {
      const op = plan.operation ?? "findMany";
      // A `select` without the primary key runs with it, so that the rows are recorded one by one.
      const keyed = op.startsWith("find") ? precise.keyed(model, plan.args) : undefined;
      const shape = precise.read(model, op, keyed?.args ?? plan.args, pk);
      const deps = shape.deps;
      for (const d of this.options.models[model]?.dependsOn ?? NONE) deps.push(modelDep(d));
      for (const t of this.modelTags(model)) deps.push(tagDep(t));
      for (const t of plan.tags ?? NONE) deps.push(tagDep(t));
      return { deps: [...new Set(deps)], guards: shape.guards, lateDeps: shape.late, keyed, l2Id: undefined };
    }
    const deps = this.readDeps(model, plan.args, plan.tags, plan.rowLookup);
    // By primary key: the row. (A row that appears bumps it, or b:M when unnamed.)
    if (pk) deps.push(pk);
    // By another unique key, the row is known only once the query ran: no write to the model may land meanwhile.
    const byOtherKey = plan.rowLookup && !pk;
    return { deps, guards: byOtherKey ? [modelDep(model)] : undefined, lateDeps: byOtherKey ? this.rows.lateDeps(model) : undefined, l2Id: undefined };
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

type QueryOption = Exclude<QueryCacheOption, false>;

/** Validates the per-query `cache` option without allocating on the common path. */
export function checkQueryOption(cache: unknown, label: () => string): QueryOption | false | undefined {
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
