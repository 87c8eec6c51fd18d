/**
 * The cache runtime behind one application of the extension to a client: it
 * wires the options, relation graph, tiers and stats to the read path
 * (engine/read-path.ts) and the write path (engine/write-path.ts), which
 * each own their whole decision.
 * @module
 */
import { randomUUID } from "node:crypto";
import { InvalidationBus } from "./coherence/bus.js";
import { LeaseManager } from "./coherence/lease.js";
import { checkModelNames, type ResolvedOptions } from "./config.js";
import { RelationGraph, type RuntimeDataModel } from "./deps/graph.js";
import { bulkDep, modelDep, newRowDep, tagDep } from "./deps/ids.js";
import { RowKeys } from "./deps/rows.js";
import { parseRelations } from "./deps/schema.js";
import { Relations } from "./deps/relations.js";
import { ReadDependencies } from "./deps/selection.js";
import { CacheUsageError } from "./errors.js";
import type { DatabaseIdentity } from "./identity.js";
import { Planner } from "./engine/planner.js";
import { RowSecurity } from "./engine/row-security.js";
import { type CacheStats, Stats } from "./stats.js";
import { MemoryTier } from "./tiers/memory.js";
import { RedisTier } from "./tiers/redis.js";
import type { RedisConnection } from "./redis/client.js";
import { connectionOf } from "./redis/detect.js";
import { ReadPath } from "./engine/read-path.js";
import { Keyspace } from "./engine/keyspace.js";
import type { Load, ReadOutcome, ReadPlan } from "./engine/request.js";
import { WritePath } from "./engine/write-path.js";
import { type CacheExplanation, explainPlan } from "./engine/explain.js";
import { EventHub } from "./events.js";
import { logEvents } from "./logger.js";
import { Audit } from "./audit.js";
import { loadOpenTelemetry, OpenTelemetry } from "./otel.js";
import { ChangeFeed } from "./feed/consumer.js";
import { FeedLease } from "./feed/lease.js";
import { feedKind, feedSource } from "./feed/sources.js";
import { FeedTranslator } from "./feed/translate.js";
import { HotReads, type RereadThroughClient, rehearse } from "./engine/hot.js";
import { HotSet } from "./tiers/hot.js";

/** One cache instance: created each time the extension is applied to a base client. */
export class CacheRuntime {
  readonly stats = new Stats();
  /** The listeners of `$cache.on(...)`. */
  readonly events = new EventHub();
  readonly graph: RelationGraph;
  /** Primary and unique keys, from the schema; row-level dependencies need them. */
  readonly rows: RowKeys;
  /** The read path, whole (engine/read-path.ts). */
  readonly readPath: ReadPath;
  /** The write path, whole (engine/write-path.ts): what each write bumps, and how. */
  readonly writePath: WritePath;
  /** The application's Redis client, through its adapter (with Redis only). */
  private readonly redis: RedisConnection | undefined;
  /** Carries bumps to other processes' L1 (with Redis only). */
  readonly bus: InvalidationBus | undefined;
  /** The change feed consumer (with `changeFeed`). */
  readonly feed: ChangeFeed | undefined;
  /** Regeneration leases (with Redis, unless `lock: false`). */
  readonly leases: LeaseManager | undefined;
  /** The namespace's read counts, and this process's warm start (`warm`, with Redis). */
  readonly hot: HotReads | undefined;
  /**
   * How a warm start reads a loaded entry again through the client, set by
   * the Prisma layer (src/prisma/warm.ts) with the cache's first client.
   */
  reread: RereadThroughClient | undefined;
  /** Resolves once the bus is subscribed (or has given up for now; at once without Redis) and telemetry is loaded (or found missing). */
  readonly ready: Promise<void>;
  /** Spans and metrics, once `@opentelemetry/api` is loaded (when it is installed and `telemetry` is on). */
  private telemetry: OpenTelemetry | undefined;
  private closed = false;
  /** Builds read plans from model reads and cached raw reads, and completes them on a miss. */
  readonly planner: Planner;
  /** Which reads row-level security keeps out of the cache. */
  readonly rowSecurity: RowSecurity;

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
    clientShape = "",
    readonly identity?: DatabaseIdentity,
    /** Prisma's provider name (`postgresql`, `mysql`, `sqlite`, ...), when known. */
    readonly provider?: string,
  ) {
    if (options.logger) logEvents(this.events, options.logger);
    this.graph = new RelationGraph(dataModel);
    const facts = parseRelations(schema);
    this.rows = new RowKeys(options.rowLevel ? facts : undefined);
    // Precise dependencies need the schema's relation facts, and row-level dependencies.
    const relations = options.rowLevel && facts ? new Relations(this.graph, facts) : undefined;
    const keyspace = new Keyspace(options.namespace, clientShape, identity);
    this.planner = new Planner({
      options,
      graph: this.graph,
      rows: this.rows,
      keyspace,
      stats: this.stats,
      precise: relations && new ReadDependencies(relations, this.rows, options.maxRowDeps),
    });
    const rowSecurity = (this.rowSecurity = new RowSecurity(
      this.graph,
      () => identity?.rowSecured,
      (e) => this.events.emit(e),
    ));
    checkModelNames(options, this.graph.models);
    // Without Redis there is nothing to check against: L1 entries live their whole ttl.
    const l1 = options.l1 === false ? undefined : new MemoryTier(options.redis ? options.l1 : { ...options.l1, ttl: Infinity });
    // The application's client, through the adapter of its family.
    const redis = options.redis && connectionOf(options.redis, options.redisTimeout);
    this.redis = redis;
    this.bus = redis
      ? new InvalidationBus({
          redis,
          namespace: options.namespace,
          timeoutMs: options.redisTimeout,
          onRemote: (deps, _from, sentAt) => {
            this.stats.remoteBumps++;
            this.readPath.generations.bump(deps);
            if (sentAt !== undefined) this.telemetry?.busLag(sentAt);
          },
          onReset: (reason) => {
            this.stats.l1Flushes++;
            this.readPath.clearL1();
            this.events.emit({ type: "l1-flushed", reason });
          },
          onError: () => this.stats.busErrors++,
          heartbeatMs: options.heartbeat,
          onSilent: () => this.events.emit({ type: "bus-silent", heartbeat: options.heartbeat }),
        })
      : undefined;
    const l2 = redis
      ? new RedisTier(redis, {
          namespace: options.namespace,
          timeoutMs: options.redisTimeout,
          failureThreshold: options.breaker.failures,
          cooldownMs: options.breaker.cooldown,
          onError: this.stats.redisError,
          bus: this.bus,
          everything: this.graph.everything,
          replicas: options.replicas,
          onReplicasShort: (wanted, acknowledged) => this.events.emit({ type: "replicas-short", wanted, acknowledged }),
          onOpen: (failures) => this.events.emit({ type: "circuit-open", failures, cooldown: options.breaker.cooldown }),
          onClose: () => this.events.emit({ type: "circuit-closed" }),
          onUndelivered: (pending) => this.events.emit({ type: "bumps-pending", pending }),
          onServerChanged: () => {
            this.stats.l1Flushes++;
            this.readPath.clearL1();
            this.events.emit({ type: "l1-flushed", reason: "server" });
          },
          onRefused: (command, err) =>
            this.events.emit({
              type: "degraded",
              internal: `Redis command ${command}`,
              effect: `Redis refuses ${command} (${err.message}), which the cache needs: what depends on it goes to the database (reads) or stays in this process (bumps), and is counted in redisErrors`,
            }),
          onUnknownServer: () =>
            this.events.emit({
              type: "degraded",
              internal: "Redis INFO",
              effect:
                "INFO is not permitted to this Redis user, so a restart, restore or failover of Redis cannot be detected: entries stored before it may be served until their ttl",
            }),
        })
      : undefined;
    this.leases =
      redis && options.lock
        ? new LeaseManager({
            redis,
            namespace: options.namespace,
            // Beside the entry it guards (in its slot on a Cluster), so that one script reads the one and takes the other.
            lockKey: l2 && ((id) => l2.lockKey(id)),
            ttlMs: options.lock.ttl,
            waitTimeoutMs: options.lock.wait,
            timeoutMs: options.redisTimeout,
            onError: this.stats.redisError,
          })
        : undefined;
    this.readPath = new ReadPath(l1, l2, this.leases, this.stats, {
      earlyRefresh: options.earlyRefresh,
      events: this.events,
      delivery: this.bus,
      planner: this.planner,
      rowSecurity,
      identity,
    });
    const { generations, fill } = this.readPath;
    this.writePath = new WritePath(
      { graph: this.graph, rows: this.rows, facts, relations, tagsOf: (m) => this.planner.modelTags(m) },
      { l2, generations, stats: this.stats, fill, observer: () => this.readPath.observer, readsInFlight: () => this.readPath.inFlight },
      this.planner,
      options,
      provider,
    );
    this.feed = options.changeFeed && this.startFeed(options.changeFeed, relations);
    this.ready = this.bus ? this.bus.start() : Promise.resolve();
    const telemetry = options.telemetry
      ? loadOpenTelemetry().then((api) => {
          if (!api || this.closed) return;
          this.telemetry = new OpenTelemetry(api, { stats: this.stats, l1, system: provider, namespace: options.namespace });
          this.readPath.observer = this.telemetry;
        })
      : undefined;
    if (telemetry) this.ready = Promise.all([this.ready, telemetry]).then(() => undefined);
    const warm = options.warm;
    this.hot =
      redis && warm
        ? new HotReads({
            set: new HotSet(redis, {
              namespace: options.namespace,
              timeoutMs: options.redisTimeout,
              maxMembers: warm.maxMembers,
              onError: this.stats.redisError,
            }),
            sampleEvery: warm.sampleEvery,
          })
        : undefined;
    // After the bus is ready: its first subscription flushes L1.
    if (this.hot && l1 && warm && warm.top > 0) this.ready = Promise.all([this.ready, this.warmStart(this.hot, warm.top, warm.timeout)]).then(() => undefined);
    this.readPath.audit =
      options.auditRate > 0
        ? new Audit({
            sampleRate: options.auditRate,
            maxPerSecond: options.auditMaxPerSecond,
            stats: this.stats,
            planner: this.planner,
            generations: this.readPath.generations,
            emit: (e) => this.events.emit(e),
            lagMs: redis ? options.heartbeat : 0,
          })
        : undefined;
  }

  /**
   * Once {@link ready}, loads the `top` entries most read across the
   * namespace into L1 from L2, then rehearses them through the client
   * (engine/hot.ts). Resolves when done, or after `timeoutMs` while the
   * rest goes on; never rejects.
   */
  private warmStart(hot: HotReads, top: number, timeoutMs: number): Promise<void> {
    const load = this.ready.then(async () => {
      if (this.closed) return;
      const loaded = await hot.load(top, { planner: this.planner, readPath: this.readPath, graph: this.graph, stats: this.stats });
      if (!this.closed && this.reread !== undefined) await rehearse(loaded, this.reread, this.readPath.rehearsal);
    });
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      timer.unref();
      void load.then(
        () => (clearTimeout(timer), resolve()),
        () => (clearTimeout(timer), resolve()),
      );
    });
  }

  /** Starts this process's change feed consumer: it competes for the namespace's lease, and consumes while it holds it. */
  private startFeed(o: NonNullable<ResolvedOptions["changeFeed"]>, relations: Relations | undefined): ChangeFeed {
    const tables = new Map(this.graph.models.map((m) => [m, this.graph.tableOf(m)] as const));
    const translator = new FeedTranslator({
      relations,
      rows: this.rows,
      tagsOf: (m) => this.planner.modelTags(m),
      tables,
      everything: this.graph.everything,
    });
    const feed = new ChangeFeed({
      kind: feedKind(o.url),
      source: () => feedSource(o, translator.tableNames),
      translator,
      lease: new FeedLease({
        redis: this.redis,
        prefix: this.options.namespace,
        owner: randomUUID(),
        ttlMs: o.lease,
        timeoutMs: this.options.redisTimeout,
      }),
      leaseMs: o.lease,
      bump: (deps) => this.writePath.bumpTaken(deps),
      everything: this.graph.everything,
      emit: (e) => this.events.emit(e),
      degrade: (e) => this.events.degrade(e),
    });
    this.stats.feed = feed.stats;
    return feed;
  }

  /** A cached read ({@link ReadPath.run}). */
  read(plan: ReadPlan, load: Load, scoped: boolean, outcome?: ReadOutcome): Promise<unknown> {
    return this.readPath.run(plan, load, scoped, outcome);
  }

  /** `$cache.explain(read)` of a read the planner decided to cache (engine/explain.ts): what the read path would do, without doing it. */
  explain(plan: ReadPlan, scoped: boolean): Promise<CacheExplanation> {
    return explainPlan(
      { planner: this.planner, rowSecurity: this.rowSecurity, identity: this.identity, l1: this.readPath.l1, l2: this.readPath.l2 },
      plan,
      scoped,
    );
  }

  /** `$cache.stats()`: the counters, and what this process's L1 holds now. */
  snapshot(): CacheStats {
    const l1 = this.readPath.l1;
    return this.stats.snapshot(l1 ? { entries: l1.size, bytes: l1.bytes } : undefined);
  }

  /** `$cache.invalidate({ models, tags })`. */
  async invalidate(target: { models?: readonly string[]; tags?: readonly string[] }): Promise<void> {
    if (typeof target !== "object" || target === null) throw new CacheUsageError("$cache.invalidate expects { models?: string[], tags?: string[] }");
    const deps: string[] = [];
    for (const m of target.models ?? []) {
      if (!this.graph.models.includes(m)) throw new CacheUsageError(`$cache.invalidate: unknown model "${m}" (models: ${this.graph.models.join(", ")})`);
      // Every entry that reads the model: lists and lookups alike.
      deps.push(modelDep(m), bulkDep(m), newRowDep(m));
    }
    for (const t of target.tags ?? []) {
      if (typeof t !== "string" || t === "") throw new CacheUsageError("$cache.invalidate: tags must be non-empty strings");
      deps.push(tagDep(t));
    }
    await this.writePath.bump(deps);
  }

  /**
   * `$cache.ready()`: {@link ready}, and, when the bus is not subscribed now
   * (Redis was restarted, the subscriber connection dropped), its
   * resubscription (at most the subscribe timeout).
   */
  whenReady(): Promise<void> {
    const bus = this.bus;
    return bus && !bus.subscribed ? Promise.all([this.ready, bus.start()]).then(() => undefined) : this.ready;
  }

  /** Closes the connections the cache opened (the bus subscriber); the app's Redis client stays open. */
  async close(): Promise<void> {
    this.closed = true;
    this.hot?.close();
    // The feed first: its last bumps go out, and its lease is given up at once.
    await this.feed?.close();
    this.readPath.l2?.close();
    await Promise.all([this.bus?.close(), this.leases?.close()]);
  }

  /** `$cache.invalidateAll()`: every entry of the namespace becomes stale. */
  async invalidateAll(): Promise<void> {
    this.readPath.clearL1();
    await this.writePath.bump(this.graph.everything);
  }
}
