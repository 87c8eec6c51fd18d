/**
 * What the dogpile lease (lease.ts) hands out and takes: a held lease, how a
 * wait ends, the manager's settings and its counters.
 * @module
 */
import type { RedisConnection } from "../redis/client.js";

/** A held lease. */
export interface Lease {
  /** The key as passed to `acquire`. */
  readonly key: string;
  /** Random token that proves ownership. */
  readonly token: string;
  /** Epoch ms (local clock) when Redis drops the lease if it is not released. */
  readonly expiresAt: number;
  /**
   * Releases the lease if this token still holds it, and wakes the waiters.
   * Resolves true when released; false when it had expired (or was taken
   * over), or Redis failed. Never throws.
   */
  release(): Promise<boolean>;
}

/**
 * How a wait ended.
 * - `"released"`: the holder released the lease (or a new lease replaced it): read the cache again.
 * - `"expired"`: the lease vanished without a release, e.g. its holder died and PX ran out.
 * - `"timeout"`: `waitTimeoutMs` passed, the signal aborted, Redis failed, or the manager closed.
 */
export type LeaseWaitOutcome = "released" | "timeout" | "expired";

/** Settings of a {@link LeaseManager}. */
export interface LeaseManagerOptions {
  /** The application's client; the manager never closes it. */
  redis: RedisConnection;
  /** Cache namespace; keys are `${namespace}:lock:${key}`, wake-ups go to `${namespace}:lease`. */
  namespace: string;
  /**
   * The Redis key of the lease on `key`: on a Cluster, in the slot of the
   * entry it guards, so that one script reads the entry and takes the lease.
   * @default `${namespace}:lock:${key}`
   */
  lockKey?: (key: string) => string;
  /** Lease lifetime in milliseconds: how long a crashed holder blocks others (`lock.ttl`). */
  ttlMs: number;
  /** Longest wait in `waitForRelease`, in milliseconds (`lock.wait`). */
  waitTimeoutMs: number;
  /**
   * First poll interval in milliseconds; doubles after every poll up to `maxPollMs`.
   * @default 10
   */
  pollMs?: number;
  /**
   * Poll interval cap in milliseconds.
   * @default 200
   */
  maxPollMs?: number;
  /** Milliseconds each Redis command may take (`redisTimeout`). */
  timeoutMs: number;
  /**
   * Where wake-ups are subscribed. Default: `redis.duplicate()`, opened on
   * the first wait and quit by `close()`. A client: SUBSCRIBE on it (it
   * enters subscriber mode; `close()` unsubscribes but leaves it open).
   * `false`: poll only.
   */
  subscriber?: RedisConnection | false;
  /** Failed or timed-out commands and subscriber errors. For counting; never thrown. */
  onError?(err: unknown): void;
}

/** Counters of a {@link LeaseManager}. */
export interface LeaseStats {
  /** PTTL polls sent. */
  polls: number;
  /** Waits ended by a release (message, local release, or a poll that saw a new lease). */
  wakeups: number;
  /** Keys with waiters right now (one poll loop each, however many waiters). */
  waitingKeys: number;
}
