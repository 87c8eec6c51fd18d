/**
 * The option types of `prismaCache(...)`, each with its JSDoc and `@default`
 * (config.ts validates them and fills in the defaults).
 * @module
 */
import type { ScopeSource } from "./prisma/declare.js";

/**
 * An ioredis client (ioredis 5 or 6, or iovalkey): `new Redis(...)`, or
 * `new Redis.Cluster([...])` for a Redis Cluster. Only what tells it apart
 * is written here (the cache does not import ioredis: it is an optional
 * peer).
 */
export interface IoRedisLike {
  /** ioredis's connection status (`"wait"`, `"connecting"`, `"ready"`, `"end"`...). */
  readonly status: string;
  evalsha(...args: never[]): unknown;
  duplicate(...args: never[]): unknown;
}

/**
 * A node-redis client (the `redis` package, 5 or 6): `createClient(...)`.
 * Pass it connected (`await client.connect()`); the cache waits for it
 * (within `redisTimeout` per command) but never connects it.
 */
export interface NodeRedisClientLike {
  readonly isOpen: boolean;
  readonly isReady: boolean;
  sendCommand(...args: never[]): unknown;
  duplicate(...args: never[]): unknown;
}

/** A node-redis Redis Cluster (the `redis` package, 5 or 6): `createCluster(...)`, connected. */
export interface NodeRedisClusterLike {
  readonly isOpen: boolean;
  readonly masters: readonly unknown[];
  nodeClient(...args: never[]): unknown;
  sendCommand(...args: never[]): unknown;
  duplicate(...args: never[]): unknown;
}

/**
 * The application's Redis client: ioredis 5 or 6 or iovalkey (a client or
 * a Cluster), or node-redis 5 or 6 (`createClient` or `createCluster`). The
 * cache never closes it; it closes the connections it opens itself (one
 * for the invalidation bus, one for the lease's wake-ups).
 */
export type RedisClient = IoRedisLike | NodeRedisClientLike | NodeRedisClusterLike;

/** Per-model options under `models.<ModelName>`. */
export interface ModelCacheOptions {
  /**
   * Seconds a cached read of this model stays fresh. Overrides the global `ttl`;
   * the query's `cache.ttl` overrides it. 0 turns caching off.
   * @default the global `ttl`
   */
  ttl?: number;
  /**
   * Seconds past `ttl` during which a stale value may still be served while one caller refreshes it.
   * @default the global `swr`
   */
  swr?: number;
  /**
   * Seconds past `ttl` during which a cached value is served if the database query fails.
   * @default the global `grace`
   */
  grace?: number;
  /**
   * Tags attached to every cached read of the model and bumped by every write to it.
   * @default []
   */
  tags?: string[];
  /**
   * `false` never caches reads of this model.
   * @default true
   */
  cache?: boolean;
  /**
   * `"write-through"` stores a create/update/upsert result as the model's find-by-id entry
   * instead of only invalidating it.
   * @default "invalidate"
   */
  invalidation?: "invalidate" | "write-through";
  /**
   * Extra models whose writes make this model's cached reads stale.
   * @default []
   */
  dependsOn?: string[];
}

/** Options of the in-process tier (L1). */
export interface L1Options {
  /**
   * Maximum number of entries.
   * @default 10000
   */
  max?: number;
  /**
   * Maximum total size in bytes (approximate: encoded length).
   * @default 67108864 (64 MiB)
   */
  maxBytes?: number;
  /**
   * Seconds an entry may be served from L1 before it is checked against L2 again.
   * With Redis this bounds how long another process's write can go unseen if the
   * invalidation bus is down. Never longer than the entry's own ttl.
   * @default 5
   */
  ttl?: number;
}

/** Options of `prismaCache(options)`. */
export interface CacheOptions {
  /**
   * The Redis client of the shared tier (L2): ioredis 5 or 6 or iovalkey
   * (`new Redis(...)`, or `new Redis.Cluster([...])` for a Redis Cluster),
   * or node-redis 5 or 6 (`createClient(...)` or `createCluster(...)`,
   * connected by the application). On a Cluster, keys are laid out in
   * hash-tag groups so that every script touches one slot.
   * Without it the cache is in-process only.
   * @default undefined
   */
  redis?: RedisClient;
  /**
   * Prefix of every Redis key and of the pub/sub channel. Processes that share data share a namespace.
   * @default "ptc"
   */
  namespace?: string;
  /**
   * Seconds a cached read stays fresh, for every model. Without it (or with 0),
   * only models and queries that set a `ttl` are cached.
   * @default undefined (not cached)
   */
  ttl?: number;
  /**
   * Seconds past `ttl` during which a stale value is served at once while one
   * caller (cluster-wide) refreshes it in the background.
   * @default 0
   */
  swr?: number;
  /**
   * Seconds past `ttl` during which a cached value is served when the database
   * query fails (the failure is counted in `stats().graceServed` and reported
   * to `$cache.on(...)` listeners). Outside it, Prisma's error reaches the caller.
   * @default 0
   */
  grace?: number;
  /**
   * Probabilistic early refresh (XFetch, Vattani et al., VLDB 2015): a hit
   * close to expiry refreshes the entry in the background with a probability
   * that grows as expiry nears and with how long the query took. This is the
   * `beta` factor; 0 turns it off.
   * @default 1
   */
  earlyRefresh?: number;
  /**
   * The regeneration lock (dogpile lease) in Redis: one process recomputes a
   * missing key while the others wait for it. `ttl`: how long a lease lives if
   * its holder dies (ms); `wait`: how long a waiter waits before querying the
   * database itself (ms). `false` keeps only the in-process single-flight.
   * @default { ttl: 10000, wait: 5000 }
   */
  lock?: false | { ttl?: number; wait?: number };
  /**
   * The in-process tier, or `false` to use Redis only.
   * @default { max: 10000, maxBytes: 67108864, ttl: 5 }
   */
  l1?: false | L1Options;
  /**
   * Per-model options, keyed by model name as the schema spells it (e.g. `Post`).
   * @default {}
   */
  models?: Record<string, ModelCacheOptions>;
  /**
   * Milliseconds after which a Redis command is abandoned and the query goes to the database.
   * @default 500
   */
  redisTimeout?: number;
  /**
   * Milliseconds within which a bus that stopped delivering is noticed (with
   * Redis): the subscriber connection is PINGed every `heartbeat / 4` ms, and
   * while no reply came within the last `heartbeat` ms, L1 entries are not
   * served (reads go to Redis). It bounds how long another process's write
   * can go unseen in this process's L1.
   * @default 1000
   */
  heartbeat?: number;
  /**
   * Replicas every bump must reach before the write resolves (Redis `WAIT`),
   * so that a failover to one of them cannot lose it. It costs each write
   * one more round trip plus the replication delay, and at most
   * `redisTimeout`: when fewer replicas answer in time, the write resolves
   * anyway and a `replicas-short` event says how many had it. (A failover
   * that does lose bumps is covered by the server epoch either way.)
   * @default 0
   */
  replicas?: number;
  /**
   * Precise dependencies: a read depends on the rows it returned (at every
   * level of its includes), the fields its selection reads and the
   * foreign-key values it selects by, so a write to another row of the
   * model, or to a field no selection reads, leaves it cached. `false` makes
   * every cached read depend on its whole model (coarser, for comparison or
   * debugging).
   * Needs the schema text the generated client carries; without it the cache
   * falls back to model level on its own.
   * @default true
   */
  rowLevel?: boolean;
  /**
   * With `rowLevel`, a list or an include depends on each row it returned.
   * Past this many rows at one level of a result (the top level, or one
   * include across all its parents), that level depends on its whole model
   * instead, so that an entry's version check stays bounded.
   * @default 100
   */
  maxRowDeps?: number;
  /**
   * Circuit breaker of the Redis tier: after `failures` failed or timed-out
   * commands in a row, Redis is skipped for `cooldown` milliseconds (reads go
   * to L1 and the database; bumps are queued and replayed).
   * @default { failures: 5, cooldown: 5000 }
   */
  breaker?: { failures?: number; cooldown?: number };
  /**
   * How results vary in the client the cache is applied to, when it has query
   * extensions (a tenant filter, row-level security set per request): a value
   * (one per client), or a function called on each cached read, typically
   * reading an `AsyncLocalStorage` store. It becomes part of every key, and it
   * lets reads through that client's query extensions be cached. Extensions
   * chained after the cache are declared with `cacheScope` or `cacheNeutral`.
   * Without it, reads through a client with query extensions are not cached.
   * @default undefined (no scope)
   */
  scope?: ScopeSource;
  /**
   * Where the cache logs what an operator should know: the Redis circuit
   * opening and closing, L1 flushes with their reason, lease timeouts, bumps
   * Redis did not take, and audit mismatches. pino, winston and `console`
   * fit. Each call passes one string.
   * @default undefined (the cache prints nothing)
   */
  logger?: CacheLogger;
  /**
   * The staleness audit: a share `sampleRate` (0 to 1) of cache hits is also
   * read from the database in the background and compared (the first hit
   * is always audited). A mismatch no bump explains is counted
   * (`stats().staleDetected`) and reported as a `stale-detected` event.
   * `maxPerSecond` bounds the database reads it adds, per process
   * (default 10).
   * @default undefined (off)
   */
  audit?: AuditOptions;
  /**
   * OpenTelemetry spans (one per miss and per bump) and metrics, through the
   * global tracer and meter providers of `@opentelemetry/api` when it is
   * installed (an optional peer). `false` turns them off.
   * @default true
   */
  telemetry?: boolean;
  /**
   * The change feed: writes made outside the app (psql, migrations, other
   * services) invalidate too, read from the database's own log (Postgres
   * logical replication, the MySQL/MariaDB row binlog, SQLite's
   * `data_version`). Every process with it competes for one lease per
   * namespace; one consumes, and another takes over within `lease` ms of
   * its death. See docs/change-feed.md.
   * @default undefined (off)
   */
  changeFeed?: ChangeFeedOptions;
  /**
   * Warm starts (with Redis; without it, nothing happens). Processes with
   * this option count the cached model reads of their bare clients (no
   * scope, no computed field, no query extension but `cacheNeutral` ones;
   * not `$queryRawCached`) by sampling, in one sorted set per namespace in
   * Redis (`<namespace>:hot`, at most max(1000, 10 × `top`) reads of at
   * most 1 KiB each). A new process loads the `top` most read into its L1
   * from Redis once its bus is ready: never from the database, and only
   * entries still fresh there. It then reads them again through the
   * client, from L1 alone, about 2,000 times in all and for at most 0.5 s
   * (counted nowhere: not in `stats()`, the read counts or the audit), so
   * that its first reads find the hit path, Prisma's and the cache's,
   * compiled.
   * `$cache.ready()` waits for all this, at most `timeout` ms. What it
   * loaded is in `stats().warmed`.
   * @default undefined (off)
   */
  warm?: WarmStartOptions;
}

/** Options of warm starts (`warm`). */
export interface WarmStartOptions {
  /**
   * How many of the namespace's most read entries a new process loads into
   * its L1 (0 to 10000; 0 counts reads and loads nothing). Beyond `l1.max`,
   * the least read ones loaded are evicted again.
   */
  top: number;
  /**
   * About one cached read in this many (chosen at random) is counted, adding
   * this much to its count, so that counting costs the read path one
   * decrement on most reads. 1 counts every read.
   * @default 16
   */
  sampleEvery?: number;
  /**
   * Milliseconds `$cache.ready()` waits for the load; past it, the load goes
   * on in the background.
   * @default 5000
   */
  timeout?: number;
}

/** Options of the staleness audit (`audit`). */
export interface AuditOptions {
  /** Share of cache hits read again from the database and compared, 0 to 1. */
  sampleRate: number;
  /**
   * Most audit reads this process starts in any second (a sliding window;
   * a fraction spreads them: 0.5 is one in any 2 s); a hit due for an
   * audit past it is not audited.
   * @default 10
   */
  maxPerSecond?: number;
}

/** Options of the change feed (`changeFeed`). */
export interface ChangeFeedOptions {
  /**
   * The database to read the log of: a `postgresql://` URL whose user has
   * `REPLICATION`, a `mysql://`/`mariadb://` URL whose user may read the
   * binlog, or a SQLite `file:` URL.
   */
  url: string;
  /** Postgres: the replication slot. @default `ptc_<namespace>` (non-word characters as `_`) */
  slot?: string;
  /** Postgres: the publication of the models' tables. @default `ptc_<namespace>` */
  publication?: string;
  /**
   * Postgres: whether a missing slot or publication is created (and a
   * publication that lacks a table is extended). `false` for managed
   * services where the app may not create them: name existing ones.
   * @default true
   */
  create?: boolean;
  /**
   * Milliseconds the consumer's lease lives without renewal: when the
   * consumer dies, another process takes over within this (plus a third of
   * it). A consumer that closes gives it up at once.
   * @default 10000
   */
  lease?: number;
  /** SQLite: milliseconds between reads of `data_version`. @default 50 */
  pollMs?: number;
}

/** A logger: pino, winston and `console` fit. Each method is called with one message. */
export interface CacheLogger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/** Per-query `cache` option: `false` bypasses the cache for this call. */
export type QueryCacheOption =
  | false
  | {
      /** Seconds this result stays fresh. 0 skips caching. @default the model's or global ttl */
      ttl?: number;
      /** Seconds past ttl during which a stale value may be served. @default the model's or global swr */
      swr?: number;
      /** Extra tags for this entry, invalidated with `$cache.invalidate({ tags })`. @default [] */
      tags?: string[];
      /** A key of your own for this entry, used instead of the hash of the arguments. @default undefined */
      key?: string;
    };

/**
 * Prisma Accelerate's per-query `cacheStrategy`, accepted as an alias of
 * `cache` so that an app moving from Accelerate changes one line (the
 * extension). `ttl` and `swr` are seconds, as in Accelerate, and `tags` are
 * invalidated with `$cache.invalidate({ tags })`. As with Accelerate, a
 * read without it is not cached unless a model or global `ttl` is set.
 */
export interface CacheStrategy {
  /** Seconds the result stays fresh. 0 skips caching. @default the model's or global ttl */
  ttl?: number;
  /** Seconds past ttl during which a stale value is served while it is refreshed. @default the model's or global swr */
  swr?: number;
  /** Tags of this entry. @default [] */
  tags?: string[];
}

/** Options of `prisma.$queryRawCached(sql, options)`: what the raw query reads. */
export interface RawCacheOptions {
  /** Models the query reads: a write to any of them makes the entry stale. @default [] */
  models?: string[];
  /** Tags of the entry, invalidated with `$cache.invalidate({ tags })`. @default [] */
  tags?: string[];
  /** Seconds the result stays fresh. 0 does not cache. @default the global ttl */
  ttl?: number;
  /** A key of your own, used instead of the hash of the SQL and its values. @default undefined */
  key?: string;
}

/**
 * Options of `prisma.$cache.wrap(fn, options)`: what a wrapped function's
 * results depend on, and how long they stay fresh. `A` is the function's
 * parameter list.
 */
export interface WrapOptions<A extends unknown[] = unknown[]> {
  /**
   * A name for the function, the same in every process that runs it. Entries
   * are keyed by the function's identity: its `name` property and the hash of
   * its source text (`fn.toString()`), so that processes running the same
   * code share them and a changed function never reads its old results. This
   * option is added to that identity. It is required for a bound or native
   * function (whose source text does not tell it apart), and for each of
   * several function objects with the same source in one cache (closures
   * made by one factory may capture different state): without it the second
   * `wrap` throws.
   * @default undefined (the function's name and source alone)
   */
  name?: string;
  /**
   * The entry's key, instead of the arguments: a string (one entry for every
   * call) or a function of the arguments returning a non-empty string. It is
   * still prefixed by the function's identity. Give one when an argument
   * has no canonical form (a function, a symbol, a circular object) or holds
   * more than the result depends on.
   * @default undefined (the canonical form of the arguments, as for queries)
   */
  key?: string | ((...args: A) => string);
  /**
   * Models the function reads: a write to any of them (in any process sharing
   * the Redis) makes its results stale. Without models, results depend on
   * the namespace as a whole: only their tags, `invalidateAll()` and their
   * ttl end them. As for a cached raw read, where row-level security applies
   * to the database user, a function that declares a model under it, or no
   * model at all, runs uncached unless a scope is declared.
   * @default []
   */
  models?: string[];
  /** Tags of its results, made stale by `$cache.invalidate({ tags })`. @default [] */
  tags?: string[];
  /** Seconds a result stays fresh. 0 does not cache: every call runs the function (counted as a `no-ttl` bypass). @default the global ttl */
  ttl?: number;
  /** Seconds past `ttl` during which a stale result is returned at once while one caller (cluster-wide) refreshes it. @default the global swr */
  swr?: number;
}
