/**
 * The cache runtime behind one application of the extension to a client:
 * options, relation graph, tiers, stats, and the read and write decisions.
 * @module
 */
import { InvalidationBus } from "./coherence/bus.js";
import { LeaseManager } from "./coherence/lease.js";
import { checkModelNames, type QueryCacheOption, type RawCacheOptions, type ResolvedOptions } from "./config.js";
import { ALL_DEP, modelDep, RelationGraph, tagDep, type RuntimeDataModel } from "./deps/graph.js";
import { readDeps } from "./deps/reads.js";
import { newRowDep, RowKeys } from "./deps/rows.js";
import { parseRelations } from "./deps/schema.js";
import { rawWriteDeps, writeDeps, writeDepsBefore, type WriteContext } from "./deps/writes.js";
import { LRUCache } from "lru-cache";
import { CacheUsageError } from "./errors.js";
import type { DatabaseIdentity } from "./identity.js";
import { canonicalHasher, canonicalize } from "./keys.js";
import type { BypassReason } from "./prisma/profile.js";
import { Stats } from "./telemetry.js";
import { MemoryTier } from "./tiers/memory.js";
import { RedisTier } from "./tiers/redis.js";
import { CacheStack } from "./engine/stack.js";
import type { ReadRequest } from "./engine/request.js";
import type { CacheEvent } from "./events.js";

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

/** Version of the key format; part of every key. */
const KEY_FORMAT = "2";

/** One cache instance: created each time the extension is applied to a base client. */
export class CacheRuntime {
  readonly stats = new Stats();
  readonly graph: RelationGraph;
  /** Primary and unique keys, from the schema; row-level dependencies need them. */
  readonly rows: RowKeys;
  readonly stack: CacheStack;
  private readonly writeContext: WriteContext;
  /** Carries bumps to other processes' L1 (with Redis only). */
  readonly bus: InvalidationBus | undefined;
  /** Regeneration leases (with Redis, unless `lock: false`). */
  readonly leases: LeaseManager | undefined;
  /** Resolves once the bus is subscribed (or has given up for now); at once without Redis. */
  readonly ready: Promise<void>;
  /**
   * Hashes an L1 key into its L2 key id, under the namespace, the database
   * fingerprint and the client's global omit. Only called once
   * {@link l2Keyed} is true.
   */
  readonly l2Id = (l1Key: string): string => {
    this.hasher ??= canonicalHasher(this.options.namespace, canonicalize([KEY_FORMAT, this.identity?.known ?? "", this.clientShape]));
    return this.hasher(l1Key);
  };
  private hasher: ((text: string) => string) | undefined;
  /** Whether L2 keys can be formed: without Redis always, with it once the database fingerprint is known. */
  readonly l2Keyed = (): boolean => this.identity === undefined || this.identity.known !== undefined;
  /**
   * What reads planned before worked out, by L1 key: their dependencies and L2
   * id (a pure function of the key), so repeated L2 hits and misses skip that work.
   */
  readonly plans = new LRUCache<string, Plan>({ max: 10_000 });
  private readonly tagsCache = new Map<string, readonly string[]>();

  /**
   * @param dataModel the client's runtime data model (models and relation fields).
   * @param schema the client's schema text, for keys and referential actions;
   *   without it, invalidation is per model.
   * @param clientShape what in the client's construction shapes results (its global `omit`), canonical.
   * @param identity the database fingerprint, taken before the first L2 read (with Redis only).
   */
  constructor(
    readonly options: ResolvedOptions,
    dataModel: RuntimeDataModel,
    schema: string | undefined,
    private readonly clientShape = "",
    readonly identity?: DatabaseIdentity,
  ) {
    this.graph = new RelationGraph(dataModel);
    const facts = parseRelations(schema);
    this.rows = new RowKeys(options.rowLevel ? facts : undefined);
    this.writeContext = { graph: this.graph, rows: this.rows, facts, tagsOf: (m) => this.modelTags(m) };
    checkModelNames(options, this.graph.models);
    // Without Redis there is nothing to check against: L1 entries live their whole ttl.
    const l1 = options.l1 === false ? undefined : new MemoryTier(options.redis ? options.l1 : { ...options.l1, ttl: Infinity });
    const onError = () => this.stats.redisErrors++;
    const redis = options.redis;
    this.bus = redis
      ? new InvalidationBus({
          redis,
          namespace: options.namespace,
          timeoutMs: options.redisTimeout,
          onRemote: (deps) => {
            this.stats.remoteBumps++;
            this.stack.generations.bump(deps);
          },
          onReset: (reason) => {
            this.stats.l1Flushes++;
            this.stack.clearL1();
            this.emit({ type: "l1-flushed", reason });
          },
          onError: () => this.stats.busErrors++,
        })
      : undefined;
    const l2 = redis
      ? new RedisTier(redis, {
          namespace: options.namespace,
          timeoutMs: options.redisTimeout,
          failureThreshold: options.breaker.failures,
          cooldownMs: options.breaker.cooldown,
          onError,
          onBumped: (deps) => this.bus!.publish(deps),
          everything: () => this.graph.everything,
        })
      : undefined;
    this.leases =
      redis && options.lock
        ? new LeaseManager({
            redis,
            namespace: options.namespace,
            ttlMs: options.lock.ttl,
            waitTimeoutMs: options.lock.wait,
            timeoutMs: options.redisTimeout,
            onError: () => this.stats.redisErrors++,
          })
        : undefined;
    this.stack = new CacheStack(l1, l2, this.leases, this.stats, { earlyRefresh: options.earlyRefresh, emit: (e) => this.emit(e), l2Keyed: this.l2Keyed });
    this.ready = this.bus ? this.bus.start() : Promise.resolve();
  }

  /** Listeners of `$cache.on(...)`. */
  private readonly listeners = new Set<(event: CacheEvent) => void>();

  /** Adds a listener of cache events; returns a function that removes it. */
  on(listener: (event: CacheEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Counts a read that skipped the cache, by reason. */
  bypass(reason: BypassReason): void {
    this.stats.bypasses++;
    this.stats.bypassReasons[reason]++;
  }

  /** Reports an event to the `$cache.on(...)` listeners. */
  emit(event: CacheEvent): void {
    for (const l of this.listeners) {
      try {
        l(event);
      } catch {
        // A listener's failure is its own business.
      }
    }
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
      this.bypass(option === false ? "cache-false" : "model-disabled");
      return undefined;
    }
    const ttl = option?.ttl ?? modelOptions?.ttl ?? this.options.ttl;
    if (!(ttl > 0)) {
      this.bypass("no-ttl");
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
      if (!this.graph.models.includes(m)) throw new CacheUsageError(`${where}: unknown model "${m}" (models: ${this.graph.models.join(", ")})`);
    }
    const option = checkQueryOption(rest, () => where) as QueryOption;
    const ttl = option.ttl ?? this.options.ttl;
    if (!(ttl > 0)) {
      this.bypass("no-ttl");
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
    return { l1Key, deps: [...new Set(deps)], ttlMs: ttl * 1000, swrMs, graceMs: this.options.grace * 1000, l2Id: () => this.l2Id(l1Key) };
  }

  /** Dependency ids of a read: models reached, tags, and the namespace. */
  readDeps(model: string, args: Record<string, unknown> | undefined, queryTags: readonly string[] | undefined, rowLookup: boolean): string[] {
    const tags = queryTags?.length ? [...this.modelTags(model), ...queryTags] : this.modelTags(model);
    return readDeps(this.graph, model, args, tags, (m) => this.options.models[m]?.dependsOn ?? NONE, rowLookup);
  }

  private modelTags(model: string): readonly string[] {
    let tags = this.tagsCache.get(model);
    if (!tags) this.tagsCache.set(model, (tags = this.options.models[model]?.tags ?? NONE));
    return tags;
  }

  /** Dependency ids a write bumps. */
  writeDeps(model: string, operation: string, args: Record<string, unknown> | undefined, result: unknown): string[] {
    return writeDeps(this.writeContext, model, operation, args, result);
  }

  /**
   * For a model with `invalidation: "write-through"`: the canonical
   * find-by-primary-key read that a create/update/upsert result can be stored
   * as. Undefined when the write does not qualify (other operations, a
   * `select`/`include`/`omit` that changes the row's shape, no primary key in
   * the result, or no ttl).
   */
  writeThrough(model: string, operation: string, args: Record<string, unknown> | undefined, result: unknown): ReadRequest | undefined {
    if (this.options.models[model]?.invalidation !== "write-through") return undefined;
    if (operation !== "create" && operation !== "update" && operation !== "upsert") return undefined;
    if (args?.select !== undefined || args?.include !== undefined || args?.omit !== undefined) return undefined;
    const where = this.rows.whereOf(model, result);
    if (!where) return undefined;
    return this.plan(model, "findUnique", { where }, undefined);
  }

  /** Dependency ids `$executeRaw` / `$executeRawUnsafe` bumps, from the SQL text. */
  rawWriteDeps(sql: string): string[] {
    return rawWriteDeps(this.writeContext, sql);
  }

  /** Dependency ids to bump before a write inside an interactive transaction runs. */
  writeDepsBefore(model: string, operation: string, args: Record<string, unknown> | undefined): string[] {
    return writeDepsBefore(this.writeContext, model, operation, args);
  }

  /**
   * The read path after an L1 miss ({@link CacheStack.read}). With Redis, the
   * first miss waits for the database fingerprint (taken once), so that L2
   * keys can be formed.
   */
  read(request: ReadRequest, load: () => Promise<unknown>): Promise<unknown> {
    const fingerprint = this.identity?.ensure();
    return fingerprint ? fingerprint.then(() => this.stack.read(request, load)) : this.stack.read(request, load);
  }

  /** `$cache.invalidate({ models, tags })`. */
  async invalidate(target: { models?: readonly string[]; tags?: readonly string[] }): Promise<void> {
    if (typeof target !== "object" || target === null) throw new CacheUsageError("$cache.invalidate expects { models?: string[], tags?: string[] }");
    const deps: string[] = [];
    for (const m of target.models ?? []) {
      if (!this.graph.models.includes(m)) throw new CacheUsageError(`$cache.invalidate: unknown model "${m}" (models: ${this.graph.models.join(", ")})`);
      deps.push(modelDep(m));
    }
    for (const t of target.tags ?? []) {
      if (typeof t !== "string" || t === "") throw new CacheUsageError("$cache.invalidate: tags must be non-empty strings");
      deps.push(tagDep(t));
    }
    await this.stack.bump(deps);
  }

  /** Closes the connections the cache opened (the bus subscriber); the app's Redis client stays open. */
  async close(): Promise<void> {
    await Promise.all([this.bus?.close(), this.leases?.close()]);
  }

  /** `$cache.invalidateAll()`: every entry of the namespace becomes stale. */
  async invalidateAll(): Promise<void> {
    this.stack.clearL1();
    await this.stack.bump(this.graph.everything);
  }
}

const NONE: readonly string[] = Object.freeze([]);

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
    private readonly runtime: CacheRuntime,
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
    const cached = this.memoizable ? this.runtime.plans.get(this.l1Key) : undefined;
    if (cached) return (this.planMemo = cached);
    const pk = (this.rowLookup && this.runtime.rows.ofWhere(this.model, this.args?.where)) || null;
    const deps = this.runtime.readDeps(this.model, this.args, this.queryTags, this.rowLookup);
    // By primary key: the row. (A row that appears bumps it, or b:M when unnamed.)
    if (pk) deps.push(pk);
    const plan: Plan = { deps, l2Id: undefined, pk };
    if (this.memoizable) this.runtime.plans.set(this.l1Key, plan);
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
    const { model, runtime } = this;
    return (value) => (value === null ? [newRowDep(model)] : [runtime.rows.ofRow(model, value) ?? modelDep(model)]);
  }

  l2Id(): string {
    const plan = this.plan;
    return (plan.l2Id ??= this.runtime.l2Id(this.l1Key));
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
