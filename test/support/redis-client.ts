/**
 * Redis clients for a test Redis given as a URL: `redis://host:port` for
 * one server, or `redis-cluster://host:port,host:port,...` for a Redis
 * Cluster's startup nodes. Free of vitest, so child processes can use it.
 *
 * The client family is the run's (`PTC_REDIS_CLIENT`, see
 * {@link clientKind}); tests stay neutral through the helpers here
 * (`closeRedis`, `whenRedisReady`, `redisCommand`...), and look at Redis
 * through an {@link adminRedis} connection of their own.
 */
import { Cluster, Redis, type RedisOptions } from "ioredis";
import type { RedisClient } from "../../src/index";

/** The scheme of a Redis Cluster's test URL. */
export const CLUSTER_SCHEME = "redis-cluster://";

/** The client families the tests run with (`PTC_REDIS_CLIENT`). */
export const CLIENT_KINDS = ["ioredis"] as const;

/** A client family the tests run with. */
export type ClientKind = (typeof CLIENT_KINDS)[number];

/** The run's client family: `PTC_REDIS_CLIENT`, ioredis 5 by default. */
export function clientKind(): ClientKind {
  const kind = process.env.PTC_REDIS_CLIENT ?? "ioredis";
  if (!(CLIENT_KINDS as readonly string[]).includes(kind)) throw new Error(`PTC_REDIS_CLIENT=${kind}: expected one of ${CLIENT_KINDS.join(", ")}`);
  return kind as ClientKind;
}

/** Options of a test client, whatever its family. */
export interface TestRedisOptions {
  /** ioredis's `maxRetriesPerRequest` (node-redis keeps a command queued over reconnects instead). */
  maxRetriesPerRequest?: number;
  /** Milliseconds between reconnect attempts after a loss (the client's default backoff without). */
  reconnectMs?: number;
  /**
   * The fail-fast options many apps use for a cache: commands fail at once
   * while not connected. ioredis: `enableOfflineQueue: false,
   * maxRetriesPerRequest: 1`. The `fail-fast` project
   * (`PTC_REDIS_OPTIONS=fail-fast`) sets it on every connection.
   */
  failFast?: boolean;
  /** ioredis: `lazyConnect` (the cache connects it). */
  lazy?: boolean;
  /** The connection's name (CLIENT SETNAME). */
  name?: string;
  username?: string;
  password?: string;
}

/** Whether the run asks for the fail-fast options on every connection. */
const failFastRun = (): boolean => process.env.PTC_REDIS_OPTIONS === "fail-fast";

/** The startup nodes of a Cluster URL. */
function clusterNodes(url: string): Array<{ host: string; port: number }> {
  return url
    .slice(CLUSTER_SCHEME.length)
    .split(",")
    .map((hostPort) => {
      const [host, port] = hostPort.split(":");
      return { host: host!, port: Number(port) };
    });
}

/** ioredis's options for `o`. */
function ioredisOptions(o: TestRedisOptions): RedisOptions {
  const options: RedisOptions = {};
  if (o.maxRetriesPerRequest !== undefined) options.maxRetriesPerRequest = o.maxRetriesPerRequest;
  if (o.reconnectMs !== undefined) {
    const ms = o.reconnectMs;
    options.retryStrategy = () => ms;
  }
  if (o.failFast) Object.assign(options, { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
  if (o.lazy) options.lazyConnect = true;
  if (o.name !== undefined) options.connectionName = o.name;
  if (o.username !== undefined) options.username = o.username;
  if (o.password !== undefined) options.password = o.password;
  return options;
}

/**
 * A client of the run's family for the test Redis at `url` (one server or a
 * Cluster), connecting. With `failFast` (or in the `fail-fast` project), the
 * family's fail-fast options.
 */
export function connectRedis(url: string, given: TestRedisOptions = {}): RedisClient {
  const o = failFastRun() ? { ...given, failFast: true } : given;
  const cluster = url.startsWith(CLUSTER_SCHEME);
  const options = ioredisOptions(o);
  return cluster ? new Cluster(clusterNodes(url), { redisOptions: options, maxRedirections: 32 }) : new Redis(url, options);
}

/** A client of the run's family for the Redis on `port` of 127.0.0.1. */
export function connectPort(port: number, options: TestRedisOptions = {}): RedisClient {
  return connectRedis(`redis://127.0.0.1:${port}`, options);
}

/** The ioredis client or Cluster behind a client of an ioredis family. */
const io = (c: RedisClient): Redis | Cluster => c as unknown as Redis | Cluster;

/** Closes `c` at once (pending commands fail). Never throws. */
export function closeRedis(c: RedisClient): void {
  io(c).disconnect();
}

/** Whether `c` can take commands now. */
export function isRedisReady(c: RedisClient): boolean {
  return io(c).status === "ready";
}

/** Resolves once `c` is ready (at once when it is). */
export function whenRedisReady(c: RedisClient): Promise<void> {
  if (isRedisReady(c)) return Promise.resolve();
  return new Promise((resolve) => io(c).once("ready", () => resolve()));
}

/** Resolves the next time `c` loses its connection. */
export function whenRedisLost(c: RedisClient): Promise<void> {
  return new Promise((resolve) => io(c).once("close", () => resolve()));
}

/** Swallows `c`'s errors (tests whose point is an outage). */
export function quietRedis(c: RedisClient): RedisClient {
  io(c).on("error", () => undefined);
  return c;
}

/**
 * Sends one command on `c`, e.g. `redisCommand(c, "GET", key)`; on a
 * Cluster it goes to the node of its first argument after the command name.
 */
export function redisCommand(c: RedisClient, command: string, ...args: Array<string | number>): Promise<unknown> {
  return io(c).call(command, ...args);
}

/** Whether the test Redis at `url` is a Cluster. */
export const isClusterUrl = (url: string): boolean => url.startsWith(CLUSTER_SCHEME);

/**
 * An ioredis connection of the test's own to look at the test Redis at `url`
 * (or on `port`): whatever the run's client family, what the cache wrote is
 * read back the same way. Close it with `disconnect()`.
 */
export function adminRedis(url: string | number): Redis | Cluster {
  const target = typeof url === "number" ? `redis://127.0.0.1:${url}` : url;
  const r = isClusterUrl(target) ? new Cluster(clusterNodes(target), { maxRedirections: 32 }) : new Redis(target);
  r.on("error", () => undefined);
  return r;
}

/** Every key matching `pattern` in the test Redis at `url`: on a Cluster, from every master. */
export async function keysMatching(url: string, pattern: string): Promise<string[]> {
  const admin = adminRedis(url);
  try {
    if (admin.status !== "ready") await new Promise((resolve) => admin.once("ready", resolve));
    const nodes = admin instanceof Cluster ? admin.nodes("master") : [admin];
    const lists = await Promise.all(nodes.map((n) => n.keys(pattern)));
    return lists.flat();
  } finally {
    admin.disconnect();
  }
}
