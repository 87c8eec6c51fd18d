/**
 * The cache runtime behind one application of the extension to a client:
 * options, relation graph, tiers, stats, and the read and write decisions.
 * @module
 */
import { InvalidationBus } from "./coherence/bus.js";
import { LeaseManager } from "./coherence/lease.js";
import { checkModelNames, type ResolvedOptions } from "./config.js";
import { ALL_DEP, modelDep, RelationGraph, tagDep, type RuntimeDataModel } from "./deps/graph.js";
import { RowKeys } from "./deps/rows.js";
import { parseRelations } from "./deps/schema.js";
import { rawWriteDeps, writeDeps, writeDepsBefore, type WriteContext } from "./deps/writes.js";
import { CacheUsageError } from "./errors.js";
import type { DatabaseIdentity } from "./identity.js";
import { canonicalHasher, canonicalize } from "./keys.js";
import type { BypassReason } from "./telemetry.js";
import { Planner } from "./engine/planner.js";
import { Stats } from "./telemetry.js";
import { MemoryTier } from "./tiers/memory.js";
import { RedisTier } from "./tiers/redis.js";
import { CacheStack } from "./engine/stack.js";
import type { ReadRequest } from "./engine/request.js";
import type { CacheEvent } from "./events.js";

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
  /** Builds read requests (plans) from model reads and cached raw reads. */
  readonly planner: Planner;

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
    this.planner = new Planner({ options, graph: this.graph, rows: this.rows, l2Id: this.l2Id, bypass: (reason) => this.bypass(reason) });
    this.writeContext = { graph: this.graph, rows: this.rows, facts, tagsOf: (m) => this.planner.modelTags(m) };
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
    // What the probe found when the cache was applied, before any listener could exist.
    for (const event of this.degraded) {
      try {
        listener(event);
      } catch {
        // A listener's failure is its own business.
      }
    }
    return () => this.listeners.delete(listener);
  }

  /** `degraded` events: Prisma internals the probe found missing, replayed to each new listener. */
  readonly degraded: CacheEvent[] = [];

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
    return this.planner.plan(model, "findUnique", { where }, undefined);
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
  read(request: ReadRequest, load: () => Promise<unknown>, scoped: boolean): Promise<unknown> {
    const fingerprint = this.identity?.ensure();
    if (fingerprint) return fingerprint.then(() => this.read(request, load, scoped));
    const secured = scoped ? undefined : this.rowSecured(request);
    if (secured) {
      // Its rows depend on the session (row-level security), which the cache cannot see: not cached unless scoped.
      this.bypass("row-level-security");
      if (!this.rlsReported) {
        this.rlsReported = true;
        this.emit({
          type: "bypass",
          reason: "row-level-security",
          model: secured,
          operation: "read",
          detail: `row-level security applies to this database user on ${[...(this.identity?.rowSecured ?? [])].join(", ")}; declare how results vary with prismaCache({ scope }) or cacheScope(scope, extension)`,
        });
      }
      return load();
    }
    return this.stack.read(request, load);
  }

  private rlsReported = false;
  /** Model dependency ids of the tables row-level security applies to, worked out once the fingerprint is known. */
  private rlsDeps: Set<string> | undefined;

  /**
   * The first model a read touches whose table's row-level security applies
   * to this connection's user (`*` for a read of the whole namespace), or undefined.
   */
  private rowSecured(request: ReadRequest): string | undefined {
    const tables = this.identity?.rowSecured;
    if (!tables || tables.size === 0) return undefined;
    if (!this.rlsDeps) {
      this.rlsDeps = new Set();
      for (const m of this.graph.models) if (tables.has(this.graph.tableOf(m))) this.rlsDeps.add(modelDep(m));
    }
    const deps = request.deps;
    for (const d of deps) if (d === ALL_DEP || this.rlsDeps.has(d)) return d === ALL_DEP ? d : d.slice(2);
    return undefined;
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

const _NONE: readonly string[] = Object.freeze([]);
