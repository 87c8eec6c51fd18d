/**
 * The examples' Redis client: ioredis, or the package `REDIS_CLIENT` names.
 * The cache takes an ioredis client (`ioredis` 5 or 6, `iovalkey`) or a
 * node-redis one (`redis` 5 or 6) alike:
 *
 * ```ts
 * const redis = new Redis(url);                              // ioredis, iovalkey
 * const redis = await createClient({ url }).connect();       // node-redis
 * prismaCache({ redis, ttl: 60 });
 * ```
 * @module
 */
import { createRequire } from "node:module";
import type { RedisClient } from "../../src/index"; // in your app: from "prisma-tiered-cache"

/** A client the example opened, and how it closes it. */
export interface ExampleRedis {
  /** What the example passes to `prismaCache({ redis })`. */
  readonly client: RedisClient;
  /** Closes the client (after the Prisma client, which closes the cache's own connections). */
  close(): Promise<void>;
}

/** An ioredis-API package (ioredis, iovalkey). */
interface IoredisPackage {
  Redis: new (url: string) => RedisClient & { on(e: "error", l: (err: Error) => void): unknown; quit(): Promise<unknown>; disconnect(): void };
}

/** node-redis (the `redis` package). */
interface NodeRedisPackage {
  createClient(options: { url: string }): RedisClient & {
    on(e: "error", l: (err: Error) => void): unknown;
    connect(): Promise<unknown>;
    close(): Promise<unknown>;
    destroy(): void;
  };
}

const load = createRequire(import.meta.url);

/**
 * A client of the Redis at `url`, from the package named by `REDIS_CLIENT`
 * (default `ioredis`; also `iovalkey`, `redis` for node-redis, or an npm
 * alias of one of them). Its errors are logged with `name`: reads go on to
 * the database meanwhile.
 */
export function exampleRedis(url: string, name: string): ExampleRedis {
  const pkg = load(process.env.REDIS_CLIENT || "ioredis") as IoredisPackage | NodeRedisPackage;
  const log = (err: Error) => console.error(`[${name}] redis: ${err.message}`);
  // node-redis has no Redis class (ioredis has a legacy static createClient, too).
  if (!("Redis" in pkg)) {
    const client = pkg.createClient({ url });
    client.on("error", log);
    // The cache waits for the connection (within redisTimeout per command) until it is up.
    client.connect().catch(log);
    return {
      client,
      close: () =>
        client.close().then(
          () => undefined,
          () => client.destroy(),
        ),
    };
  }
  const client = new pkg.Redis(url);
  client.on("error", log);
  return {
    client,
    close: () =>
      client.quit().then(
        () => undefined,
        () => client.disconnect(),
      ),
  };
}
