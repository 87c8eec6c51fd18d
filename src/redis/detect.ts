/**
 * The adapter of the client the application passes as `redis`, told from
 * the object itself: ioredis is not imported, so it stays an optional peer.
 * @module
 */
import type { RedisClient } from "../options.js";
import type { RedisConnection } from "./client.js";
import { IoRedisConnection, isIoRedis } from "./ioredis.js";

/** What `redis` must be, in words (the config error). */
export const SUPPORTED_CLIENTS = "an ioredis client (new Redis(...) or new Redis.Cluster([...]))";

/** Whether `v` is a client of a family the cache has an adapter for. */
export function isSupportedClient(v: unknown): boolean {
  return typeof v === "object" && v !== null && isIoRedis(v);
}

/** One adapter per client, however many caches share it. */
const adapters = new WeakMap<object, RedisConnection>();

/**
 * The adapter of `client`: an ioredis client or Cluster. Throws a TypeError
 * for anything else (options are validated before: config.ts).
 */
export function connectionOf(client: RedisClient): RedisConnection {
  let c = adapters.get(client);
  if (c) return c;
  if (isIoRedis(client)) c = new IoRedisConnection(client);
  else throw new TypeError(`redis must be ${SUPPORTED_CLIENTS}`);
  adapters.set(client, c);
  return c;
}
