/**
 * A Redis client for a test Redis given as a URL: `redis://host:port` for
 * one server, or `redis-cluster://host:port,host:port,...` for a Redis
 * Cluster's startup nodes. Free of vitest, so child processes can use it.
 */
import { Cluster, Redis, type RedisOptions } from "ioredis";

/** The scheme of a Redis Cluster's test URL. */
export const CLUSTER_SCHEME = "redis-cluster://";

/**
 * The fail-fast options many apps use for a cache, which the `fail-fast`
 * test project (`PTC_REDIS_OPTIONS=fail-fast`) applies to every connection.
 */
export const FAIL_FAST: RedisOptions = { enableOfflineQueue: false, maxRetriesPerRequest: 1 };

/**
 * A client of the test Redis at `url` (one server or a Cluster), with
 * `options` for each connection (and the fail-fast ones when the run asks
 * for them).
 */
export function connectRedis(url: string, given: RedisOptions = {}): Redis | Cluster {
  const options = process.env.PTC_REDIS_OPTIONS === "fail-fast" ? { ...given, ...FAIL_FAST } : given;
  if (!url.startsWith(CLUSTER_SCHEME)) return new Redis(url, options);
  const nodes = url
    .slice(CLUSTER_SCHEME.length)
    .split(",")
    .map((hostPort) => {
      const [host, port] = hostPort.split(":");
      return { host: host!, port: Number(port) };
    });
  return new Cluster(nodes, { redisOptions: options, maxRedirections: 32 });
}

/** Whether the test Redis at `url` is a Cluster. */
export const isClusterUrl = (url: string): boolean => url.startsWith(CLUSTER_SCHEME);

/** Every key matching `pattern`: on a Cluster, from every master. */
export async function keysMatching(redis: Redis | Cluster, pattern: string): Promise<string[]> {
  const nodes = redis instanceof Cluster ? redis.nodes("master") : [redis];
  const lists = await Promise.all(nodes.map((n) => n.keys(pattern)));
  return lists.flat();
}
