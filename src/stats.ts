/**
 * Counters behind `prisma.$cache.stats()`.
 * @module
 */
import type { FeedStats } from "./feed/consumer.js";

/** Why a read was not cached (counted in `stats().bypassReasons`). */
export type BypassReason = "cache-false" | "model-disabled" | "no-ttl" | "transaction" | "query-extension" | "scope-error" | "row-level-security";

const noBypasses = (): Record<BypassReason, number> => ({
  "cache-false": 0,
  "model-disabled": 0,
  "no-ttl": 0,
  transaction: 0,
  "query-extension": 0,
  "scope-error": 0,
  "row-level-security": 0,
});

/** The counters of one model and operation, in `stats().byModel`. */
export interface OperationStats {
  /** Reads answered from a tier. */
  hits: { l1: number; l2: number };
  /** Cacheable reads that went to the database. */
  misses: number;
  /** Entries stored after a miss (or a write-through). */
  fills: number;
  /** Fills refused because a dependency changed while the query ran. */
  fillsRefused: number;
  /** Reads that skipped the cache. */
  bypasses: number;
}

/** The mutable counters of one model and operation. */
export class OpCounters {
  constructor(
    /** The model, or {@link RAW_MODEL}. */
    readonly model = "",
    /** The operation called. */
    readonly operation = "",
  ) {}

  l1 = 0;
  l2 = 0;
  misses = 0;
  fills = 0;
  fillsRefused = 0;
  bypasses = 0;

  snapshot(): OperationStats {
    return { hits: { l1: this.l1, l2: this.l2 }, misses: this.misses, fills: this.fills, fillsRefused: this.fillsRefused, bypasses: this.bypasses };
  }
}

/** The model name `stats().byModel` files cached raw reads under (their operation is `queryRaw`). */
export const RAW_MODEL = "$queryRawCached";

/** A snapshot of the cache's counters since the extension was created (or since `resetStats()`). */
export interface CacheStats {
  /** Reads answered from a tier. */
  hits: {
    /** Answered from the in-process tier. */
    l1: number;
    /** Answered from Redis. */
    l2: number;
  };
  /** Cacheable reads that went to the database. */
  misses: number;
  /** Reads that skipped the cache: `cache: false`, model `cache: false`, no ttl, inside an interactive transaction, or through an undeclared query extension. */
  bypasses: number;
  /**
   * `bypasses` by reason: `cache-false` (the query's `cache: false`),
   * `model-disabled` (the model's `cache: false`), `no-ttl`, `transaction`
   * (an interactive transaction), `query-extension` (a query extension the
   * cache cannot see into, not declared with `cacheScope`/`cacheNeutral`),
   * `scope-error` (a scope function threw), `row-level-security` (the read
   * touches a table whose row-level security applies to the database user,
   * and no scope is declared).
   */
  bypassReasons: Record<BypassReason, number>;
  /** Entries stored after a miss. */
  fills: number;
  /** Fills refused because a dependency changed while the query ran (compare-and-set). */
  fillsRefused: number;
  /** Reads that joined another caller's in-flight query for the same key instead of querying. */
  coalesced: number;
  /** Values served past their ttl within `swr` (a background refresh was started). */
  staleServed: number;
  /** Background refreshes started (stale hits and early refreshes). */
  backgroundRefreshes: number;
  /** Hits picked for a probabilistic early refresh (XFetch). */
  earlyRefreshes: number;
  /** Times a miss waited for another process's regeneration lease. */
  leaseWaits: number;
  /** Lease waits that ran out (`lock.wait`) before the holder released; the waiter queried itself. */
  leaseTimeouts: number;
  /** Cached values served because the database query failed, within `grace`. */
  graceServed: number;
  /** Version bumps issued by writes and by `$cache.invalidate*`. */
  invalidations: number;
  /** Redis commands that failed or timed out (the read or write went on without Redis). */
  redisErrors: number;
  /** Failures of the invalidation bus: subscriber connection errors, failed publishes, malformed messages. */
  busErrors: number;
  /** Bumps received from other processes on the bus (each makes the L1 entries it outdates stale). */
  remoteBumps: number;
  /** Times L1 was flushed because the bus may have missed messages (connect, reconnect, gap). */
  l1Flushes: number;
  /** Entries found in Redis that could not be decoded (deleted and treated as a miss). */
  corruptEntries: number;
  /** Hits the staleness audit read again from the database (`audit.sampleRate`). */
  audits: number;
  /** Audited hits whose value differed from the database's with no bump to explain it (each also a `stale-detected` event). */
  staleDetected: number;
  /**
   * Entries this process loaded into its L1 from Redis at start (`warm: {
   * top }`): the namespace's most read, each still fresh there.
   */
  warmed: number;
  /** This process's L1 now: entries held and their approximate bytes (0 and 0 with `l1: false`). */
  l1: { entries: number; bytes: number };
  /**
   * The same counters by model and operation (the operation called, e.g.
   * `findUniqueOrThrow`): `byModel.User.findUnique.hits.l1`. Cached raw
   * reads are under `byModel.$queryRawCached.queryRaw`, wrapped functions
   * under `byModel["$cache.wrap"]` by their `name` option or function name.
   * Only models and operations that were read appear.
   */
  byModel: Record<string, Record<string, OperationStats>>;
  /** The change feed of this process (`changeFeed`): where it stands, what it applied, its lag; undefined without the option. */
  feed?: FeedStats;
}

/** Mutable counters; `snapshot()` gives the public, frozen view. */
export class Stats {
  l1Hits = 0;
  l2Hits = 0;
  misses = 0;
  bypasses = 0;
  bypassReasons = noBypasses();
  fills = 0;
  fillsRefused = 0;
  coalesced = 0;
  staleServed = 0;
  backgroundRefreshes = 0;
  earlyRefreshes = 0;
  leaseWaits = 0;
  leaseTimeouts = 0;
  graceServed = 0;
  invalidations = 0;
  redisErrors = 0;
  busErrors = 0;
  remoteBumps = 0;
  l1Flushes = 0;
  corruptEntries = 0;
  audits = 0;
  staleDetected = 0;
  warmed = 0;
  /** The change feed's figures, when it runs (owned by feed/consumer.ts). */
  feed: FeedStats | undefined;

  /** Counters by model, then operation. */
  private byModel = new Map<string, Record<string, OpCounters>>();

  /** The counters of `model` and `operation` (created on first use, and kept across `reset()`). */
  of(model: string, operation: string): OpCounters {
    let ops = this.byModel.get(model);
    if (ops === undefined) this.byModel.set(model, (ops = Object.create(null) as Record<string, OpCounters>));
    return (ops[operation] ??= new OpCounters(model, operation));
  }

  /** Calls `fn` with the counters of every model and operation read so far. */
  eachOperation(fn: (counters: OpCounters) => void): void {
    for (const ops of this.byModel.values()) for (const op in ops) fn(ops[op]!);
  }

  /** Counts a read that skipped the cache, by reason (and by model and operation when given). */
  bypass(reason: BypassReason, counters?: OpCounters): void {
    this.bypasses++;
    this.bypassReasons[reason]++;
    if (counters) counters.bypasses++;
  }

  /** Counts a failed or timed-out Redis command (a function, to be handed to the tiers). */
  readonly redisError = (): void => {
    this.redisErrors++;
  };

  /** The public view; `l1` is what the in-process tier holds now. */
  snapshot(l1: { entries: number; bytes: number } = { entries: 0, bytes: 0 }): CacheStats {
    return {
      l1,
      hits: { l1: this.l1Hits, l2: this.l2Hits },
      misses: this.misses,
      bypasses: this.bypasses,
      bypassReasons: { ...this.bypassReasons },
      fills: this.fills,
      fillsRefused: this.fillsRefused,
      coalesced: this.coalesced,
      staleServed: this.staleServed,
      backgroundRefreshes: this.backgroundRefreshes,
      earlyRefreshes: this.earlyRefreshes,
      leaseWaits: this.leaseWaits,
      leaseTimeouts: this.leaseTimeouts,
      graceServed: this.graceServed,
      invalidations: this.invalidations,
      redisErrors: this.redisErrors,
      busErrors: this.busErrors,
      remoteBumps: this.remoteBumps,
      l1Flushes: this.l1Flushes,
      corruptEntries: this.corruptEntries,
      audits: this.audits,
      staleDetected: this.staleDetected,
      warmed: this.warmed,
      byModel: this.byModelSnapshot(),
      ...(this.feed ? { feed: { ...this.feed } } : {}),
    };
  }

  private byModelSnapshot(): Record<string, Record<string, OperationStats>> {
    const out: Record<string, Record<string, OperationStats>> = {};
    for (const [model, ops] of this.byModel) {
      const o: Record<string, OperationStats> = {};
      for (const op in ops) o[op] = ops[op]!.snapshot();
      out[model] = o;
    }
    return out;
  }

  reset(): void {
    // The per-operation counter objects stay (plans hold them); they are zeroed.
    const { byModel, feed } = this;
    Object.assign(this, new Stats());
    this.feed = feed;
    for (const ops of byModel.values()) for (const op in ops) Object.assign(ops[op]!, new OpCounters(ops[op]!.model, op));
    this.byModel = byModel;
  }
}
