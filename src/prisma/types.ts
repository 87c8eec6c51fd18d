/**
 * The public types of the Prisma seam: the per-query `cache` option, the
 * cached read methods, `$cache` and `$queryRawCached`, and what
 * `prismaCache(...)` returns.
 * @module
 */
import type { Prisma, PrismaClientExtends } from "@prisma/client/extension";
import type { Sql, Types } from "@prisma/client/runtime/client";
import type { BumpId } from "../coherence/message.js";
import type { CacheStrategy, QueryCacheOption, RawCacheOptions, WrapOptions } from "../options.js";
import type { BusDeliveryError, CacheUsageError } from "../errors.js";
import type { CacheExplanation } from "../engine/explain.js";
import type { CacheStats } from "../stats.js";
import type { CacheEvent } from "../events.js";
import type { CacheInfo } from "../engine/info.js";
import type { WarmOptions, WarmSummary } from "../engine/warm.js";

/** The per-query option added to every cached read's arguments. */
export interface CacheArgs {
  /**
   * `false` bypasses the cache for this call; an object overrides ttl/swr, adds tags, or sets a key.
   * @default undefined (the model's and global settings apply)
   */
  cache?: QueryCacheOption;
  /**
   * Prisma Accelerate's option, an alias of `cache` (`{ ttl, swr, tags }`, in seconds); not together with `cache`.
   * @default undefined (the model's and global settings apply)
   */
  cacheStrategy?: CacheStrategy;
}

type FluentOperation = "findUnique" | "findUniqueOrThrow" | "findFirst" | "findFirstOrThrow";
type RelationNames<T> = T extends { [K: symbol]: { types: { payload: { objects: infer O } } } } ? keyof O : never;
type RelationSelect<T, Op extends FluentOperation, K> =
  NonNullable<NonNullable<Prisma.Args<T, Op>>["select"]> extends infer S ? (K extends keyof S ? S[K] : never) : never;

/**
 * Prisma's fluent API on a cached `findUnique`/`findFirst` (and `OrThrow`):
 * `prisma.user.findUnique(...).posts()`. Fluent calls go to the database.
 */
export type CachedFluentApi<T, Op extends FluentOperation> = {
  [K in RelationNames<T>]: <A>(
    args?: Prisma.Exact<A, RelationSelect<T, Op, K>>,
  ) => Prisma.PrismaPromise<
    | (K extends keyof NonNullable<Prisma.Result<T, { select: { [Q in K]: A } }, Op>>
        ? NonNullable<Prisma.Result<T, { select: { [Q in K]: A } }, Op>>[K]
        : never)
    | (Op extends "findUnique" | "findFirst" ? null : never)
  >;
};

/**
 * What every cached read returns: a lazy PrismaPromise of `R`, with
 * `withCacheInfo()`, which resolves to `{ data, info }` instead (like
 * Accelerate's `withAccelerateInfo()`): the same data, and how the cache
 * answered (see {@link CacheInfo}).
 */
export type CachedPromise<R> = Prisma.PrismaPromise<R> & {
  /** The same read, resolving to its data and its {@link CacheInfo}. Never throws for a bypassed read (`status: "bypass"`). */
  withCacheInfo(): Prisma.PrismaPromise<{ data: R; info: CacheInfo }>;
};

/** What a cached `findUnique`/`findFirst` (and `OrThrow`) returns: a {@link CachedPromise} with the fluent API. */
export type CachedFluentResult<T, A, Op extends FluentOperation> = CachedPromise<Prisma.Result<T, A, Op>> & CachedFluentApi<T, Op>;

/**
 * The cached reads the extension adds to every model. Each accepts Prisma's own
 * arguments plus `cache`, and returns what Prisma returns.
 */
export interface CachedReadMethods {
  findUnique<T, A>(this: T, args: Prisma.Exact<A, Prisma.Args<T, "findUnique"> & CacheArgs>): CachedFluentResult<T, A, "findUnique">;
  findUniqueOrThrow<T, A>(this: T, args: Prisma.Exact<A, Prisma.Args<T, "findUniqueOrThrow"> & CacheArgs>): CachedFluentResult<T, A, "findUniqueOrThrow">;
  findFirst<T, A>(this: T, args?: Prisma.Exact<A, Prisma.Args<T, "findFirst"> & CacheArgs>): CachedFluentResult<T, A, "findFirst">;
  findFirstOrThrow<T, A>(this: T, args?: Prisma.Exact<A, Prisma.Args<T, "findFirstOrThrow"> & CacheArgs>): CachedFluentResult<T, A, "findFirstOrThrow">;
  findMany<T, A>(this: T, args?: Prisma.Exact<A, Prisma.Args<T, "findMany"> & CacheArgs>): CachedPromise<Prisma.Result<T, A, "findMany">>;
  count<T, A>(this: T, args?: Prisma.Exact<A, Prisma.Args<T, "count"> & CacheArgs>): CachedPromise<Prisma.Result<T, A, "count">>;
  aggregate<T, A>(this: T, args: Prisma.Exact<A, Prisma.Args<T, "aggregate"> & CacheArgs>): CachedPromise<Prisma.Result<T, A, "aggregate">>;
  groupBy<T, A>(this: T, args: Prisma.Exact<A, Prisma.Args<T, "groupBy"> & CacheArgs>): CachedPromise<Prisma.Result<T, A, "groupBy">>;
}

/** What `prismaCache(...)` returns: pass it to `prisma.$extends(...)`. */
export type CacheExtension = (client: unknown) => PrismaClientExtends<
  // biome-ignore lint/complexity/noBannedTypes: Prisma's extension arguments use `{}` for "no result and no query component".
  Types.Extensions.InternalArgs<{}, { $allModels: CachedReadMethods }, {}, { $cache: CacheClientApi; $queryRawCached: RawQueryMethod }> &
    Types.Extensions.DefaultArgs
>;

/**
 * `prisma.$queryRawCached<T>(Prisma.sql\`...\`, { models, tags, ttl, key })`: a cached
 * `$queryRaw`. Declare the models it reads so writes to them invalidate it.
 * Inside an interactive transaction it runs uncached. Lazy, like Prisma's
 * own `$queryRaw`: it runs when awaited.
 */
export type RawQueryMethod = <T = unknown>(sql: Sql, options: RawCacheOptions) => CachedPromise<T>;

/** `prisma.$cache`: invalidation and statistics. */
export interface CacheClientApi {
  /** Makes every cached read that depends on one of these models or tags stale, in every process sharing the Redis. */
  invalidate(target: { models?: string[]; tags?: string[] }): Promise<void>;
  /** Makes every cached entry of the namespace stale. */
  invalidateAll(): Promise<void>;
  /** Counters since creation or the last `resetStats()`. */
  stats(): CacheStats;
  /** Sets every counter back to 0. */
  resetStats(): void;
  /**
   * Resolves once this process listens to other processes' bumps (with Redis),
   * or at once without Redis. Reads work before; L1 is flushed when it happens.
   * Called again while the bus is resubscribing (after Redis restarted or the
   * subscriber connection dropped), it waits for that too, at most 2 s.
   */
  ready(): Promise<void>;
  /**
   * The last bump this process published on the bus, as `{ instance, seq }`,
   * or undefined (none yet, or no Redis). Pass it to another process's
   * `delivered(...)` to wait until that process has applied it.
   */
  lastPublished(): BumpId | undefined;
  /**
   * Resolves once this process has applied the bump `from` (or a later one of
   * the same sender) to its L1. Rejects with a {@link BusDeliveryError} on
   * timeout (`timeoutMs`, default 5000) or when the cache is closed.
   */
  delivered(from: BumpId, options?: { timeoutMs?: number }): Promise<void>;
  /** Closes the connections the cache opened. Also done by `prisma.$disconnect()`. */
  close(): Promise<void>;
  /**
   * Listens to cache events: `grace` (a cached value was served because the
   * database query failed; `error` is Prisma's error), `refreshed` and
   * `refresh-error` (a background refresh stored a new value, or failed), `lease-wait` (a miss waits for another
   * process's regeneration lease) and `lease-timeout` (it stopped waiting and
   * queried itself). Returns a function that removes the listener.
   */
  on(listener: (event: CacheEvent) => void): () => void;
  /**
   * How the cache would answer a read, without running it: whether it would
   * be cached and, if not, why (the reasons of `stats().bypassReasons`); its
   * tiers, L1 key, L2 key, the dependencies it would record, its ttl and
   * swr (see {@link CacheExplanation}). Pass the read as the app calls it,
   * not awaited: `prisma.$cache.explain(prisma.post.findMany({ ... }))`, or a
   * `$queryRawCached(...)` (or either's `withCacheInfo()`). It is decided by
   * the read path's own code, and counts, reports and reads nothing; with
   * Redis it first waits for the database fingerprint (taken once per
   * cache, as the first read does).
   * Rejects with a {@link CacheUsageError} for anything but a cached read of
   * this cache, and with the read's own error when its `cache` option is malformed.
   */
  explain(read: PromiseLike<unknown>): Promise<CacheExplanation>;
  /**
   * Returns `fn` with its results cached in both tiers, like reads: keyed by
   * the function's identity and its arguments' canonical form (or `key`),
   * stale after a write to one of its `models` or `invalidate({ tags })`, in
   * every process; with single-flight, the regeneration lease, `swr`, grace
   * (the global `grace`: a result within it is returned when `fn` rejects)
   * and the compare-and-set fill. Results keep their types (Date, bigint,
   * Decimal, bytes) and each caller gets its own copy. Without a ttl (option
   * or global) it runs `fn` on every call. See {@link WrapOptions}.
   * @throws {CacheUsageError} naming a bad option; a call rejects with one when its arguments cannot be keyed or its result cannot be stored.
   */
  wrap<A extends unknown[], R>(fn: (...args: A) => Promise<R>, options?: WrapOptions<A>): (...args: A) => Promise<R>;
  /**
   * Runs cached reads to fill both tiers, e.g. after a deploy:
   * `prisma.$cache.warm([() => prisma.post.findMany({ where: { published: true } }), ...])`.
   * Each function returns a cached read, not awaited (not an async
   * function). They run through the normal read path, at most
   * `concurrency` at once: an entry already fresh is a hit and nothing is
   * recomputed; a missing one is computed once cluster-wide (the lease) and
   * stored with the compare-and-set fill. `onProgress` is called after each.
   * A read that throws or rejects is counted in `failed` (with its error in
   * `errors`) and never rejects the warm-up.
   * Rejects with a {@link CacheUsageError} when `reads` is not an array of
   * functions or an option is malformed. See {@link WarmSummary}.
   */
  warm(reads: ReadonlyArray<() => PromiseLike<unknown>>, options?: WarmOptions): Promise<WarmSummary>;
}
