/**
 * A read the cache does not answer, decided before it runs. The decisions
 * (the client's admission in prisma/model.ts, the planner, row-level
 * security) return one instead of counting or reporting it, so that the
 * read path and `$cache.explain` share them: the read path counts it in
 * `stats().bypassReasons` (and reports some as `bypass` events), an
 * explanation only describes it.
 * @module
 */
import type { BypassReason } from "../stats.js";

/** Why a read is not cached: its reason (a key of `stats().bypassReasons`) and what it means for this read. */
export class Bypass {
  constructor(
    readonly reason: BypassReason,
    /** What the reason means for this read, and, where there is one, what to do about it. */
    readonly detail: string,
    /** What a scope function threw (`scope-error` only). */
    readonly error?: unknown,
  ) {}
}

/** The query's `cache: false`. */
export const CACHE_FALSE = new Bypass("cache-false", "the query's cache option is false");

/** No ttl for the read: not the query's, its model's nor the global one. */
export const NO_TTL = new Bypass("no-ttl", "no ttl above 0 applies to it (the query's, its model's, or the global ttl)");

/** A read inside an interactive transaction. */
export const IN_TRANSACTION = new Bypass(
  "transaction",
  "reads inside an interactive transaction go to the database (the transaction's own writes are not committed yet)",
);
