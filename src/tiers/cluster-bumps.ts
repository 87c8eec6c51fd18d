/**
 * The parts of a bump that differ on a Redis Cluster and with `replicas`:
 * one single-key command per counter, and `WAIT` on every master.
 * @module
 */
import type { RedisConnection } from "../redis/client.js";
import type { Breaker } from "./breaker.js";
import { randomBase, VERSION_TTL_MS } from "./entry.js";
import { BUMP, BumpOp } from "./versions.js";

/**
 * On a Cluster: bumps the first `n` of `keys` and reads the others, one
 * single-key command each, sent at once. While a slot migrates, its keys may
 * lie on two masters for a while, and a multi-key script fails there until
 * the move ends; single keys follow the client's ASK redirections. Undefined
 * when any of them failed.
 */
export async function bumpEachKey(redis: RedisConnection, breaker: Breaker, keys: readonly string[], n: number): Promise<unknown[] | undefined> {
  const base = randomBase();
  const replies = await Promise.all(
    keys.map((k, i) =>
      i < n
        ? breaker.call(
            () => redis.script(BUMP, [k], [1, base, VERSION_TTL_MS, BumpOp.bumpOnly, 0]),
            (r) => (Array.isArray(r) ? r[0] : undefined),
          )
        : breaker.call(
            () => redis.get(k),
            (v) => v ?? "",
          ),
    ),
  );
  return replies.some((r) => r === undefined) ? undefined : replies;
}

/**
 * Waits (at most 80 % of `timeoutMs`, so that a short count is an answer,
 * not a timeout) until `wanted` replicas have what this connection wrote;
 * resolves to the fewest that acknowledged on any master.
 */
export async function waitForReplicas(redis: RedisConnection, breaker: Breaker, wanted: number, timeoutMs: number): Promise<number> {
  const ms = Math.max(1, Math.floor(timeoutMs * 0.8));
  // WAIT counts what one connection wrote: on a Cluster, each master's (every group's bump went to all).
  const counts = await Promise.all(redis.waitOnMasters(wanted, ms).map((wait) => breaker.call(wait)));
  return Math.min(...counts.map((c) => (typeof c === "number" ? c : 0)));
}
