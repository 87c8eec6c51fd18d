/**
 * `prisma.$cache.explain(read)`: what the read path would do with a read,
 * told without running it. The decisions are the read path's own: the
 * client's admission (prisma/model.ts), the planner's plan and its
 * completion (planner.ts), and row-level security (row-security.ts), each
 * called in the form that counts and reports nothing. No tier is read.
 * @module
 */
import type { DatabaseIdentity } from "../identity.js";
import type { BypassReason } from "../stats.js";
import type { MemoryTier } from "../tiers/memory.js";
import type { RedisTier } from "../tiers/redis.js";
import { Bypass } from "./bypass.js";
import type { Planner } from "./planner.js";
import type { ReadPlan } from "./request.js";
import type { RowSecurity } from "./row-security.js";

/** A tier of the cache: `l1` in this process, `l2` in Redis. */
export type CacheTier = "l1" | "l2";

/**
 * What `prisma.$cache.explain(read)` resolves to: how the cache would answer
 * the read, decided as the read itself decides, without running it.
 * Durations are in milliseconds, like those of `withCacheInfo()`.
 */
export interface CacheExplanation {
  /** Whether the read would go through the cache (true), or straight to the database (false: see `reason`). */
  cached: boolean;
  /**
   * Why it would not, when `cached` is false: the same reasons, counted the
   * same way, as `stats().bypassReasons` (`cache-false`, `model-disabled`,
   * `no-ttl`, `transaction`, `query-extension`, `scope-error`,
   * `row-level-security`); undefined when it would be cached.
   */
  reason: BypassReason | undefined;
  /** The reason in words, for this read (what to declare, where there is something to); undefined when it would be cached. */
  detail: string | undefined;
  /**
   * The tiers the read would be looked up in and stored to: `l1` unless
   * `l1: false`, `l2` with Redis once L2 keys can be formed (see `l2Key`);
   * empty when it would not be cached.
   */
  tiers: CacheTier[];
  /** The key of its entry in this process's L1: the canonical text of the read (client scope, model, operation, arguments); undefined when not cached. */
  l1Key: string | undefined;
  /**
   * The entry's L2 key id, the hash of `l1Key` under the namespace and the
   * database fingerprint: the same as `withCacheInfo()`'s `info.key` for this
   * read. Undefined when not cached, or while it cannot be formed (with
   * Redis, until the database fingerprint is known: see `notes`).
   */
  key: string | undefined;
  /**
   * The entry's key as Redis holds it (`<namespace>:e:<epoch>:<key>`, the
   * epoch being the Redis server's, see the operations docs). Undefined
   * without Redis, when not cached, or while it cannot be formed: before
   * the database fingerprint is known, or before the server's epoch was
   * checked on the current connection (see `notes`).
   */
  l2Key: string | undefined;
  /**
   * The dependency ids the entry would record, known before the query (models
   * `m:`, rows `r:`, row sets `s:`, fields `f:`, values `v:`, tags `t:`, the
   * namespace `*`, …): `withCacheInfo()`'s `info.deps` holds these first.
   * When `resultDeps` is true, those found in the result are added after
   * the query. Empty when not cached.
   */
  deps: string[];
  /**
   * Dependency ids that must not move while the query runs, or its fill is
   * refused, without being recorded (e.g. the whole model, for a unique
   * lookup whose row is only known from its result). Empty when there are none.
   */
  guards: string[];
  /**
   * Whether the entry also records dependencies found in its result (the rows
   * it returns, at every level, or the row a unique lookup finds), which
   * only the query can tell.
   */
  resultDeps: boolean;
  /** Milliseconds the stored value would stay fresh (0 when not cached). */
  ttl: number;
  /** Milliseconds past `ttl` during which it would be served stale while refreshed (0 when not cached, or no swr). */
  swr: number;
  /** Milliseconds past `ttl` during which it would be served if the database fails (0 when not cached, or no grace). */
  grace: number;
  /** What else applies to this read now, in words: a key that cannot be formed yet and why, Redis skipped by the circuit breaker, dependencies added from the result. */
  notes: string[];
}

/** What an explanation is worked out from: the read path's parts. */
export interface ExplainContext {
  readonly planner: Planner;
  readonly rowSecurity: RowSecurity;
  /** The database fingerprint, with Redis. */
  readonly identity: DatabaseIdentity | undefined;
  readonly l1: MemoryTier | undefined;
  readonly l2: RedisTier | undefined;
}

/** The explanation of a read that would not be cached. */
export function explainBypass(bypass: Bypass): CacheExplanation {
  return {
    cached: false,
    reason: bypass.reason,
    detail: bypass.detail,
    tiers: [],
    l1Key: undefined,
    key: undefined,
    l2Key: undefined,
    deps: [],
    guards: [],
    resultDeps: false,
    ttl: 0,
    swr: 0,
    grace: 0,
    notes: [],
  };
}

/**
 * The explanation of a read planned as `plan` (the planner decided to cache
 * it), through a client that declared a scope when `scoped`. With Redis, it
 * first waits for the database fingerprint, as the read's first miss would
 * (taken once per cache, with one query), since L2 keys and row-level
 * security depend on it. Counts, reports and reads nothing else.
 */
export async function explainPlan(ctx: ExplainContext, plan: ReadPlan, scoped: boolean): Promise<CacheExplanation> {
  const { planner, rowSecurity, identity, l1, l2 } = ctx;
  await identity?.ensure();
  const request = planner.complete(plan);
  const secured = rowSecurity.find(request, scoped);
  if (secured !== undefined) {
    const what = secured === "*" ? "it depends on the whole namespace" : `it reads ${secured}`;
    return explainBypass(new Bypass("row-level-security", `${what}, and ${rowSecurity.detail()}`));
  }
  const notes: string[] = [];
  const tiers: CacheTier[] = l1 ? ["l1"] : [];
  let l2Key: string | undefined;
  if (l2) {
    if (request.l2Id === undefined) {
      notes.push(
        "the database fingerprint could not be taken (see fingerprint-error events), so L2 keys cannot be formed: the read uses L1 and the database only, until an attempt succeeds",
      );
    } else {
      tiers.push("l2");
      l2Key = l2.entryKeyOf(request.l2Id);
      if (l2Key === undefined)
        notes.push("the Redis server's epoch is not checked yet on the current connection, so l2Key is not known yet: the read checks it first");
      if (!l2.available)
        notes.push("Redis is skipped now (the circuit breaker is open after repeated failures): the read uses L1 and the database until it closes");
    }
  }
  const resultDeps = request.lateDeps !== undefined;
  if (resultDeps) notes.push("dependencies found in the result (the rows it returns, or the row it finds) are recorded after the query, besides deps");
  return {
    cached: true,
    reason: undefined,
    detail: undefined,
    tiers,
    l1Key: plan.l1Key,
    key: request.l2Id,
    l2Key,
    deps: [...request.deps],
    guards: [...(request.guards ?? [])],
    resultDeps,
    ttl: plan.ttlMs,
    swr: plan.swrMs,
    grace: plan.graceMs,
    notes,
  };
}
