/**
 * The adapter of the client the application passes as `redis`, told from
 * the object itself: neither ioredis nor node-redis is imported, so both
 * stay optional peers.
 * @module
 */
import type { RedisClient } from "../options.js";
import type { RedisConnection } from "./client.js";
import { IoRedisConnection, isIoRedis } from "./ioredis.js";
import { isNodeRedisClient, isNodeRedisCluster, NodeRedisClusterConnection, NodeRedisConnection } from "./node-redis.js";

/** What `redis` must be, in words (the config error). */
export const SUPPORTED_CLIENTS =
  "an ioredis or iovalkey client (new Redis(...), new Redis.Cluster([...])) or a node-redis client (createClient(...), createCluster(...))";

/** Whether `v` is a client of a family the cache has an adapter for. */
export function isSupportedClient(v: unknown): boolean {
  return typeof v === "object" && v !== null && (isNodeRedisCluster(v) || isNodeRedisClient(v) || isIoRedis(v));
}

/** One adapter per client and command timeout, however many caches share them. */
const adapters = new WeakMap<object, Map<number | undefined, RedisConnection>>();

/**
 * The adapter of `client`: ioredis (5, 6) and iovalkey, or node-redis (5, 6),
 * a client or a Cluster. `timeoutMs` is the cache's command timeout
 * (`redisTimeout`): commands it abandons are dropped by the client too where
 * the client can (node-redis). Throws a TypeError for anything else
 * (options are validated before: config.ts).
 */
export function connectionOf(client: RedisClient, timeoutMs?: number): RedisConnection {
  let byTimeout = adapters.get(client);
  if (!byTimeout) adapters.set(client, (byTimeout = new Map()));
  let c = byTimeout.get(timeoutMs);
  if (c) return c;
  // node-redis first: its clients have a `sendCommand` too, but no ioredis `status`.
  if (isNodeRedisCluster(client)) c = new NodeRedisClusterConnection(client, timeoutMs);
  else if (isNodeRedisClient(client)) c = new NodeRedisConnection(client, timeoutMs);
  else if (isIoRedis(client)) c = new IoRedisConnection(client);
  else throw new TypeError(`redis must be ${SUPPORTED_CLIENTS}`);
  byTimeout.set(timeoutMs, c);
  return c;
}
