/**
 * The environment every benchmark group runs in: a Postgres database with the
 * committed migrations and a Redis, started exactly as the integration tests
 * start theirs (test/support/servers.ts), plus a run id for names. MariaDB
 * and SQLite databases are made on a group's first request, as the test
 * setup makes them (test/support/databases.ts: a local mariadbd or
 * `MYSQL_URL`; a file in a temp dir).
 * @module
 */
import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { loadLibrary, type Library } from "./library";
import { copyTemplate, type PreparedDatabases, prepareDatabases } from "../../test/support/databases";
import { createMigratedDatabase, dropRunDatabases, isShared, ServerScope, startServers, type Servers } from "../../test/support/servers";

/** The databases other than Postgres a group can ask for: MariaDB (the `mysql` provider) and SQLite. */
export type OtherDatabase = "mysql" | "sqlite";

/** A database of {@link OtherDatabase} made for one group. */
export interface OtherDatabaseInfo {
  /** Connection URL (`mysql://` or `file:`). */
  url: string;
  /** Where it runs, e.g. `mariadb: local /usr/sbin/mariadbd on 127.0.0.1:40001`. */
  description: string;
}

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
  /**
   * Creates a fresh migrated database of `kind` for one group (the server, or
   * the template file, is made on the first call) and returns its URL.
   * Removed at {@link close}.
   */
  databaseOn(kind: OtherDatabase, name: string): Promise<OtherDatabaseInfo>;
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
  const prepared = new Map<OtherDatabase, Promise<PreparedDatabases>>();
  const databaseOn = async (kind: OtherDatabase, name: string): Promise<OtherDatabaseInfo> => {
    let source = prepared.get(kind);
    if (!source) prepared.set(kind, (source = prepareDatabases(scope, kind, runId)));
    const { source: from, description } = await source;
    const db = await copyTemplate(from, `ptc_${runId}_${name}`);
    scope.defer(() => db.drop());
    return { url: db.url, description };
  };
  return {
    runId,
    servers,
    // Named ptc_<runId>_* so dropRunDatabases finds them on a shared server.
    database: (name) => createMigratedDatabase(postgres.url, `ptc_${runId}_${name}`),
    databaseOn,
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
