/**
 * Per-query cache info: what `withCacheInfo()` resolves to besides the data.
 * @module
 */
import type { Planner } from "./planner.js";
import { type CacheStatus, type ReadOutcome, recordedDeps } from "./request.js";

/** How one read was answered: `prisma.user.findUnique(args).withCacheInfo()` resolves to `{ data, info }`. */
export interface CacheInfo {
  /** Which tier answered, or why none did (see {@link CacheStatus}). */
  status: CacheStatus;
  /** The entry's L2 key id (the hash under the namespace; Redis holds it as `<namespace>:e:<epoch>:<key>`); undefined for a bypass. */
  key: string | undefined;
  /** Milliseconds since the value served was read from the database (0 for a miss or a bypass). */
  age: number;
  /** Milliseconds it stays fresh from now (0 once stale, and for a bypass). */
  ttl: number;
  /** The dependency ids the entry recorded (models `m:`, rows `r:`, tags `t:`, …); empty for a bypass. */
  deps: readonly string[];
}

/**
 * The info of a read that ended with `outcome` and `value`. `recorded`
 * gives what the entry of an L1 key recorded, when L1 holds it: a read
 * whose query selected keys its caller did not ask for (deps/select-keys.ts)
 * recorded its rows by them, which `value` no longer shows.
 */
export function cacheInfo(
  planner: Planner,
  outcome: ReadOutcome,
  value: unknown,
  recorded?: (l1Key: string) => readonly string[] | undefined,
  now = Date.now(),
): CacheInfo {
  const { timing, plan } = outcome;
  if (outcome.status === "bypass" || plan === undefined || timing === undefined) return { status: "bypass", key: undefined, age: 0, ttl: 0, deps: [] };
  const request = planner.complete(plan);
  const storedAt = timing.freshUntil - plan.ttlMs;
  return {
    status: outcome.status,
    key: request.l2Id,
    age: outcome.status === "miss" ? 0 : Math.max(0, now - storedAt),
    ttl: Math.max(0, timing.freshUntil - now),
    deps: (request.keyed && recorded?.(request.l1Key)) || recordedDeps(request, value),
  };
}
