/**
 * The environment every benchmark group runs in: a Postgres database with the
 * committed migrations and a Redis, started exactly as the integration tests
 * start theirs (test/support/servers.ts), plus a run id for names.
 * @module
 */
import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { loadLibrary, type Library } from "./library";
import { createMigratedDatabase, dropRunDatabases, isShared, ServerScope, startServers, type Servers } from "../../test/support/servers";

/** What a benchmark group gets. */
export interface BenchEnv {
  /** Unique id of this run (hex). */
  runId: string;
  servers: Servers;
  /**
   * Creates a fresh migrated database for one group and returns its URL.
   * Dropped at {@link close} when the server is shared.
   */
  database(name: string): Promise<string>;
  /** URL of the Redis. Keep keys under {@link namespace}. */
  redisUrl: string;
  /** A Redis key namespace unique to this run and `group`. */
  namespace(group: string): string;
  /** The library under test (see ./library.ts). */
  library: Library;
}

/**
 * Loads the library and starts the servers; `close()` removes what this run
 * created and stops what it started.
 */
export async function startBenchEnv(): Promise<BenchEnv & { close(): Promise<void> }> {
  const runId = randomBytes(3).toString("hex");
  const scope = new ServerScope("[bench]");
  const [lib, srv] = await Promise.allSettled([loadLibrary(), startServers(scope, "Benchmarks")]);
  if (lib.status === "fulfilled") scope.defer(() => lib.value.dispose());
  if (lib.status === "rejected" || srv.status === "rejected") {
    await scope.close();
    throw lib.status === "rejected" ? lib.reason : (srv as PromiseRejectedResult).reason;
  }
  const library = lib.value;
  const servers = srv.value;
  const { postgres, redis } = servers;
  if (isShared(postgres)) scope.deferLast(() => dropRunDatabases(postgres.url, runId));
  if (isShared(redis)) scope.deferLast(() => deleteKeys(redis.url, `ptc-bench:${runId}:*`));
  return {
    runId,
    servers,
    // Named ptc_<runId>_* so dropRunDatabases finds them on a shared server.
    database: (name) => createMigratedDatabase(postgres.url, `ptc_${runId}_${name}`),
    redisUrl: redis.url,
    namespace: (group) => `ptc-bench:${runId}:${group}`,
    library,
    close: () => scope.close(),
  };
}

/** Deletes the keys matching `pattern` (SCAN, never KEYS or FLUSHDB). */
async function deleteKeys(url: string, pattern: string): Promise<void> {
  const redis = new Redis(url, { lazyConnect: true });
  try {
    await redis.connect();
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", pattern, "COUNT", 1000);
      if (keys.length) await redis.unlink(...keys);
      cursor = next;
    } while (cursor !== "0");
  } finally {
    redis.disconnect();
  }
}
