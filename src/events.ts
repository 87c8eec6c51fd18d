/**
 * The events `$cache.on(...)` reports.
 * @module
 */
import type { BusResetReason } from "./coherence/message.js";
import type { FeedStatus } from "./feed/consumer.js";

/**
 * Why L1 was flushed: the bus's reasons (`connect`, `reconnect`, `gap`,
 * `error`), or `server`: the Redis server changed since this process last
 * checked it (a restart, a restore from a snapshot, a failover), so entries
 * and bus messages before it may be lost.
 */
export type L1FlushReason = BusResetReason | "server";

/**
 * Something the cache reports besides its counters. Every `key` is the same
 * kind of key: the entry's L1 key, the canonical text of its query (model,
 * operation, arguments, and what the client adds to them).
 */
export type CacheEvent =
  | { type: "grace"; error: unknown }
  | { type: "refresh-error"; error: unknown }
  /** A background refresh stored a new value for `key`. */
  | { type: "refreshed"; key: string }
  | { type: "l1-flushed"; reason: L1FlushReason }
  /**
   * The bus's subscriber answered nothing for `heartbeat` ms: until it does
   * again (or resubscribes), L1 entries are not served and reads go to Redis.
   */
  | { type: "bus-silent"; heartbeat: number }
  /** Fewer replicas than `replicas` had a write's bump within `redisTimeout` (the write resolved anyway). */
  | { type: "replicas-short"; wanted: number; acknowledged: number }
  /** A miss on `key` waits for another process's regeneration lease. */
  | { type: "lease-wait"; key: string }
  /** It stopped waiting (`lock.wait`) and queried the database itself. */
  | { type: "lease-timeout"; key: string }
  /**
   * Something the cache relies on is missing: a Prisma internal in this
   * Prisma version, or Redis's `INFO` command (not permitted to the user),
   * and the cache works without it as `effect` says. Reported to every
   * listener when it is added (the probe runs when the cache is applied).
   */
  | { type: "degraded"; internal: string; effect: string }
  /** The Redis circuit opened: `failures` commands failed in a row, and Redis is skipped for `cooldown` ms (reads go to the database). */
  | { type: "circuit-open"; failures: number; cooldown: number }
  /** The Redis circuit closed: Redis answers again. */
  | { type: "circuit-closed" }
  /**
   * Redis did not take a write's bump: `pending` bumps wait in this process
   * and are replayed once Redis answers. Until then, other processes may
   * serve entries those writes changed from their L1 or from Redis.
   */
  | { type: "bumps-pending"; pending: number }
  /**
   * The staleness audit read a sampled hit from the database and found
   * another value: `key` was served with dependencies `deps`, `cachedAge` ms
   * after it was read from the database; the database's value is
   * `databaseAge` ms old (the audit's read). Counted in `stats().staleDetected`.
   */
  | { type: "stale-detected"; key: string; deps: readonly string[]; cachedAge: number; databaseAge: number }
  /**
   * This process's change feed moved to `status` (see `stats().feed`):
   * `streaming` when it consumes, `standby` when another process does,
   * `waiting` or `failed` with the `error` that stopped it.
   */
  | { type: "feed-status"; status: FeedStatus; error?: string }
  /** The database fingerprint could not be taken: reads use L1 and the database only, and it is tried again after 1 s. */
  | { type: "fingerprint-error"; error: unknown }
  | {
      type: "bypass";
      /** Why reads through this client are not cached: `query-extension`, `scope-error` or `row-level-security`. */
      reason: "query-extension" | "scope-error" | "row-level-security";
      /** The model read, or `$queryRawCached`. */
      model: string;
      /** The operation. */
      operation: string;
      /** What the cache could not see into, and how to declare it. */
      detail: string;
      /** What a scope function threw (`scope-error` only). */
      error?: unknown;
    };

/**
 * The listeners of `$cache.on(...)`, and what they are told. `degraded`
 * events (what the probe found when the cache was applied, before any
 * listener could exist) are replayed to each new listener.
 */
export class EventHub {
  private readonly listeners = new Set<(event: CacheEvent) => void>();
  /** `degraded` events, replayed to each new listener. */
  readonly degraded: CacheEvent[] = [];

  /** Adds a listener; returns a function that removes it. */
  on(listener: (event: CacheEvent) => void): () => void {
    this.listeners.add(listener);
    for (const event of this.degraded) deliver(listener, event);
    return () => this.listeners.delete(listener);
  }

  /** Reports a `degraded` event to the listeners there are, and to each one added later. */
  degrade(event: CacheEvent & { type: "degraded" }): void {
    this.degraded.push(event);
    this.emit(event);
  }

  /** Reports an event to every listener. */
  emit(event: CacheEvent): void {
    for (const l of this.listeners) deliver(l, event);
  }
}

function deliver(listener: (event: CacheEvent) => void, event: CacheEvent): void {
  try {
    listener(event);
  } catch {
    // A listener's failure is its own business.
  }
}
