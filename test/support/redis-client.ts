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
import { createRequire } from "node:module";
import { Cluster, Redis, type RedisOptions } from "ioredis";
import type { RedisClient } from "../../src/index";
import { connectionOf } from "../../src/redis/detect";

/** The scheme of a Redis Cluster's test URL. */
export const CLUSTER_SCHEME = "redis-cluster://";

/**
 * The client families the tests run with (`PTC_REDIS_CLIENT`): ioredis 5
 * (`ioredis`), ioredis 6 (`ioredis-6`, RESP3 by default), node-redis 5
 * (`redis`, RESP2 by default), node-redis 6 (`redis-6`, RESP3 by default)
 * and iovalkey.
 */
export const CLIENT_KINDS = ["ioredis", "ioredis6", "node-redis", "node-redis6", "iovalkey"] as const;

/** A client family the tests run with. */
export type ClientKind = (typeof CLIENT_KINDS)[number];

/** The run's client family: `PTC_REDIS_CLIENT`, ioredis 5 by default. */
export function clientKind(): ClientKind {
  const kind = process.env.PTC_REDIS_CLIENT ?? "ioredis";
  if (!(CLIENT_KINDS as readonly string[]).includes(kind)) throw new Error(`PTC_REDIS_CLIENT=${kind}: expected one of ${CLIENT_KINDS.join(", ")}`);
  return kind as ClientKind;
}

/** The npm package (or alias) of each family, as the examples' `REDIS_CLIENT` takes it. */
export const CLIENT_PACKAGES: Record<ClientKind, string> = {
  ioredis: "ioredis",
  ioredis6: "ioredis-6",
  "node-redis": "redis",
  "node-redis6": "redis-6",
  iovalkey: "iovalkey",
};

/** Whether the run's family is node-redis (5 or 6). */
export const isNodeRedisRun = (): boolean => clientKind().startsWith("node-redis");

/**
 * The Redis suites' slowest cases, by what they exercise:
 * - `outages`: production Redis with the client's default options, and
 *   under load (kills, a freeze): what a client does through outages;
 * - `processes`: the cache's own logic at length, the client only carrying
 *   its commands: the stampede over four processes, the lease holder killed
 *   mid-query, coherence's randomized operations.
 */
export type SlowCases = "outages" | "processes";

/**
 * Whether the run's family runs the `kind` of slowest cases: ioredis 5 (the
 * default client) runs every case; node-redis 5, the other adapter's first
 * client, the `outages` ones too. ioredis 6, node-redis 6 and iovalkey run
 * the suites without them, so that the client matrix fits the suite's time
 * budget. The cases are not registered where they do not run (harness.ts:
 * `slowDescribe`), so nothing is reported skipped.
 */
export function runsSlowCases(kind: SlowCases): boolean {
  const c = clientKind();
  return c === "ioredis" || (kind === "outages" && c === "node-redis");
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
   * maxRetriesPerRequest: 1`; node-redis: `disableOfflineQueue: true` and a
   * reconnect strategy (50 ms doubling to 500 ms). The `fail-fast` project
   * (`PTC_REDIS_OPTIONS=fail-fast`) sets it on every connection.
   */
  failFast?: boolean;
  /** ioredis: `lazyConnect` (the cache connects it). node-redis clients are connected at once all the same. */
  lazy?: boolean;
  /** Never reconnect after a loss (ioredis `retryStrategy: () => null`, node-redis `reconnectStrategy: false`). */
  noReconnect?: boolean;
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
  if (o.noReconnect) options.retryStrategy = () => null;
  if (o.lazy) options.lazyConnect = true;
  if (o.name !== undefined) options.connectionName = o.name;
  if (o.username !== undefined) options.username = o.username;
  if (o.password !== undefined) options.password = o.password;
  return options;
}

/** node-redis's client options for `o` (without the URL). */
function nodeRedisOptions(o: TestRedisOptions): Record<string, unknown> {
  const options: Record<string, unknown> = {};
  const socket: Record<string, unknown> = {};
  if (o.failFast) {
    options.disableOfflineQueue = true;
    socket.reconnectStrategy = (retries: number) => Math.min(50 * 2 ** retries, 500);
  }
  if (o.reconnectMs !== undefined) socket.reconnectStrategy = o.reconnectMs;
  if (o.noReconnect) socket.reconnectStrategy = false;
  if (Object.keys(socket).length > 0) options.socket = socket;
  if (o.name !== undefined) options.name = o.name;
  if (o.username !== undefined) options.username = o.username;
  if (o.password !== undefined) options.password = o.password;
  // RESP: the family's default, or PTC_REDIS_RESP.
  if (process.env.PTC_REDIS_RESP) options.RESP = Number(process.env.PTC_REDIS_RESP);
  return options;
}

/** The ioredis-API constructors of a family (loaded on first use: only the run's family is loaded). */
interface IoredisFamily {
  Redis: new (url: string, options: RedisOptions) => unknown;
  Cluster: new (nodes: Array<{ host: string; port: number }>, options: object) => unknown;
}

/** node-redis's factories. */
interface NodeRedisFamily {
  createClient(options: object): { connect(): Promise<unknown>; on(event: string, listener: () => void): unknown };
  createCluster(options: object): { connect(): Promise<unknown>; on(event: string, listener: () => void): unknown };
}

const load = createRequire(import.meta.url);

/** The package of `kind`. */
function family(kind: ClientKind): IoredisFamily | NodeRedisFamily {
  if (kind === "ioredis") return { Redis, Cluster } as unknown as IoredisFamily;
  return load(CLIENT_PACKAGES[kind]) as IoredisFamily | NodeRedisFamily;
}

/**
 * A client of the run's family (or of `kind`) for the test Redis at `url`
 * (one server or a Cluster), connecting: a node-redis client's `connect()`
 * is called here, as an app does before passing it. With `failFast` (or in
 * the `fail-fast` project), the family's fail-fast options.
 */
export function connectRedis(url: string, given: TestRedisOptions = {}, kind: ClientKind = clientKind()): RedisClient {
  const o = failFastRun() ? { ...given, failFast: true } : given;
  const cluster = url.startsWith(CLUSTER_SCHEME);
  const f = family(kind);
  if ("Redis" in f) {
    const options = ioredisOptions(o);
    return (cluster ? new f.Cluster(clusterNodes(url), { redisOptions: options, maxRedirections: 32 }) : new f.Redis(url, options)) as RedisClient;
  }
  const options = nodeRedisOptions(o);
  const client = cluster
    ? f.createCluster({
        rootNodes: clusterNodes(url).map((n) => ({ url: `redis://${n.host}:${n.port}` })),
        defaults: options,
        maxCommandRedirections: 32,
      })
    : f.createClient({ url, ...options });
  // node-redis throws an "error" nobody listens to; the tests read errors from the cache's stats.
  client.on("error", () => undefined);
  client.connect().catch(() => undefined);
  return client as unknown as RedisClient;
}

/** A client of the run's family for the Redis on `port` of 127.0.0.1. */
export function connectPort(port: number, options: TestRedisOptions = {}): RedisClient {
  return connectRedis(`redis://127.0.0.1:${port}`, options);
}

/** A client as its family's own API, to close it. */
interface Closable {
  disconnect?(): unknown;
  destroy?(): unknown;
  isOpen?: boolean;
}

/** Closes `c` at once (pending commands fail). Never throws. */
export function closeRedis(c: RedisClient): void {
  const x = c as unknown as Closable;
  try {
    if (typeof x.isOpen === "boolean") {
      if (x.isOpen) void Promise.resolve(x.destroy?.()).catch(() => undefined);
    } else x.disconnect?.();
  } catch {
    // already closed
  }
}

/** Whether `c` can take commands now. */
export function isRedisReady(c: RedisClient): boolean {
  return connectionOf(c).state === "ready";
}

/** Resolves the next time `c` has the connection event `event`. */
function next(c: RedisClient, event: "ready" | "close"): Promise<void> {
  const conn = connectionOf(c);
  return new Promise((resolve) => {
    const listener = () => {
      conn.off(event, listener);
      resolve();
    };
    conn.on(event, listener);
  });
}

/** Resolves once `c` is ready (at once when it is). */
export function whenRedisReady(c: RedisClient): Promise<void> {
  return isRedisReady(c) ? Promise.resolve() : next(c, "ready");
}

/** Resolves the next time `c` loses its connection. */
export function whenRedisLost(c: RedisClient): Promise<void> {
  return next(c, "close");
}

/** Swallows `c`'s errors (tests whose point is an outage). */
export function quietRedis(c: RedisClient): RedisClient {
  connectionOf(c).on("error", () => undefined);
  return c;
}

/** A client as its family's own API, for one command. */
interface RawCommands {
  call?(command: string, ...args: Array<string | number>): Promise<unknown>;
  sendCommand?(...args: unknown[]): Promise<unknown>;
  nodeClient?: unknown;
}

/**
 * Sends one command on `c`, e.g. `redisCommand(c, "GET", key)`; on a
 * Cluster it goes to the node of its first argument after the command name.
 */
export function redisCommand(c: RedisClient, command: string, ...args: Array<string | number>): Promise<unknown> {
  const x = c as unknown as RawCommands;
  if (x.call) return x.call(command, ...args);
  const all = [command, ...args.map(String)];
  return typeof x.nodeClient === "function" ? x.sendCommand!(all[1], false, all) : x.sendCommand!(all);
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
