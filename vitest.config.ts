import { configDefaults, defineConfig } from "vitest/config";

/**
 * Fourteen projects (CONTRIBUTING.md's test matrix is written from them:
 * `npm run docs:matrix`): the unit tests and the docs test, with no server,
 * beside everything else on one Redis; then the suites that also run on a
 * Redis Cluster, then those with fail-fast client options, then the demo on
 * its own, then the suites that also run on MariaDB, on SQLite and on
 * MariaDB with relationMode = "prisma" (side by side), then the Redis client
 * matrix (node-redis 5 on one Redis and on a Cluster, node-redis 6, ioredis
 * 6, iovalkey; side by side). The demo starts an
 * app in a child process and checks that none of its Redis commands timed
 * out; run alongside files that fork several processes of their own, a
 * 2-core machine can starve it past `redisTimeout`.
 */
const DEMO = "test/integration/demo.test.ts";

/** The unit tests: pure logic and state machines over in-process fakes, no database and no Redis (`npm run test:unit`). */
const UNIT = "test/unit/**/*.test.ts";

/**
 * The docs test: it type-checks and runs the TypeScript blocks of the README
 * and docs/. No server either, but a whole tsc program takes longer than
 * every unit test together, so it has a project of its own, out of
 * `npm run test:unit`.
 */
const DOCS = "test/unit/docs.test.ts";

/** The MySQL change feed source's test: it reads a MariaDB binlog, so only the `mariadb` project runs it. */
const FEED_MYSQL = "test/integration/feed-mysql.test.ts";

/**
 * The suites that run again with a Redis Cluster (three masters) as the
 * shared tier, and again with the fail-fast client options.
 */
const ON_CLUSTER = ["read-path", "precision", "invalidation", "coherence", "lease", "dogpile"].map((f) => `test/integration/${f}.test.ts`);

/**
 * The suites that run again on MariaDB (project `mariadb`, `PTC_DB=mysql`)
 * and on SQLite (project `sqlite`, `PTC_DB=sqlite`): the same files, with
 * the database as a parameter (test/support/databases.ts). Transactions are
 * in invalidation.test.ts, the straddling-read race (a read that began
 * before a write never stores its result as fresh) in resilience.test.ts
 * ("compare-and-set fill") and cache-info.test.ts (refused fills). Where a
 * provider lacks an operation, the suite's list of cases says so (Prisma has
 * no createManyAndReturn or updateManyAndReturn on MySQL). Not on them:
 * files whose subject is Postgres itself (isolation and scopes: row-level
 * security under a Postgres role; setup: Postgres catalogs and SQL text),
 * the Redis-only suites (cluster, production-redis), and the examples' and
 * packaging tests, which run apps built on the Postgres client.
 */
const ON_OTHER_DATABASES = [
  "migrations",
  "read-path",
  "precision",
  "invalidation",
  "resilience",
  "coherence",
  "dogpile",
  "lease",
  "bus",
  "accelerate-alias",
  "cache-info",
  "observability",
  "opentelemetry",
  "isolation-random",
  "precision-random",
].map((f) => `test/integration/${f}.test.ts`);

/**
 * The change feed end to end through the cache on MariaDB and on SQLite
 * (writes made outside the app; feed.test.ts is its Postgres counterpart):
 * only the `mariadb` and `sqlite` projects run it.
 */
const FEED_OUTSIDE = "test/integration/feed-outside.test.ts";

/** What the `mariadb` project runs: the suites of {@link ON_OTHER_DATABASES}, and the MySQL change feed's tests. */
const ON_MARIADB = [...ON_OTHER_DATABASES, FEED_MYSQL, FEED_OUTSIDE];

/** The SQLite change feed source's test: it needs an SQLite database, so only the `sqlite` project runs it. */
const FEED_SQLITE = "test/integration/feed-sqlite.test.ts";

/** What the `sqlite` project runs: the suites of {@link ON_OTHER_DATABASES}, and the SQLite change feed's tests. */
const ON_SQLITE = [...ON_OTHER_DATABASES, FEED_SQLITE, FEED_OUTSIDE];

/**
 * The Redis client matrix: the Redis suites again with each other client
 * family (`PTC_REDIS_CLIENT`, test/support/redis-client.ts). Every suite
 * runs with ioredis 5 in `suite`, `cluster` and `fail-fast`; a full rerun
 * per client would not fit the time budget, so each other client runs a
 * representative subset:
 * - node-redis 5 (RESP2), the other adapter, the most (project
 *   `node-redis`): read path, coherence, dogpile, lease, bus, production
 *   Redis (restore, failover, cold start with the default and the fail-fast
 *   options, silent bus, replicas, refused commands, the commands of a miss
 *   and of a write, the load with kills and a freeze), warm starts (the
 *   hot set's pipelines) and the HTTP example's two instances; on a Cluster (`node-redis-cluster`): read
 *   path, lease, and the Cluster suite (two processes, entries on every
 *   master, a slot migration under load);
 * - node-redis 6 (RESP3), ioredis 6 (RESP3) and iovalkey: read path,
 *   coherence, dogpile, bus, and production Redis with their fail-fast
 *   options.
 * The slowest cases run with some clients only (`runsSlowCases` in
 * test/support/redis-client.ts): production Redis with the client's default
 * options and under load with ioredis 5 and node-redis 5; the stampede over
 * four processes, the lease holder killed mid-query and coherence's
 * randomized operations (the cache's own logic, the client only carrying
 * its commands) with ioredis 5 alone. The suites do not register them for
 * the other clients, so nothing is reported skipped.
 */
const ON_NODE_REDIS = ["read-path", "coherence", "dogpile", "lease", "bus", "production-redis", "warm", "http-api"].map((f) => `test/integration/${f}.test.ts`);

/** What `node-redis-cluster` runs on a Redis Cluster with node-redis. */
const ON_NODE_REDIS_CLUSTER = ["read-path", "lease", "cluster"].map((f) => `test/integration/${f}.test.ts`);

/** What node-redis 6, ioredis 6 and iovalkey run. */
const ON_OTHER_CLIENTS = ["read-path", "coherence", "dogpile", "bus", "production-redis"].map((f) => `test/integration/${f}.test.ts`);

/** One project of the client matrix (group 6, side by side). */
const matrixProject = (name: string, client: string, include: string[], globalSetup = "test/setup/global.ts") => ({
  extends: true as const,
  test: {
    name,
    include,
    globalSetup: [globalSetup],
    env: { PTC_REDIS_CLIENT: client },
    sequence: { groupOrder: 6 },
  },
});

/**
 * The suites that run on MariaDB again with the relationMode = "prisma"
 * schema (project `mariadb-rm`, `PTC_DB=mysql-rm`: no foreign keys, Prisma
 * Client emulates onDelete and onUpdate, as PlanetScale users run it): the
 * referential actions (cascades, SetNull, onUpdate) in the invalidation and
 * precision suites, and the migrations that make that database.
 */
const ON_RELATION_MODE_PRISMA = ["migrations", "precision", "invalidation", "precision-random"].map((f) => `test/integration/${f}.test.ts`);

/**
 * The projects of the other databases (group 5): two files at a time, one
 * worker each. Their servers are their own (a MariaDB per project, SQLite
 * files), and the longest files (precision-random, 5,000 operations on
 * each database) mostly wait on IPC and queries, so two overlap well even
 * on 2 cores.
 */
const SIDE_BY_SIDE = { maxWorkers: 2, sequence: { groupOrder: 5 } };

export default defineConfig({
  test: {
    pool: "forks",
    // One worker process runs a project's files one after another, importing the
    // generated client and the library once: a fork and an import per file cost
    // 2-3 s each, minutes over the suite. Files share nothing but modules: each
    // opens its own database, namespace and clients, and closes them.
    isolate: false,
    reporters: ["default", "./test/setup/summary-reporter.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    projects: [
      {
        extends: true,
        // Two files at a time even on 2 cores (vitest's default there is one): they only compute.
        test: {
          name: "unit",
          include: [UNIT],
          exclude: [...configDefaults.exclude, DOCS],
          maxWorkers: 2,
          // Several take the timer functions at import, before a test installs fake timers: a module each.
          isolate: true,
          testTimeout: 10_000,
          // First, on their own (group 0): a group's projects must share maxWorkers.
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: { name: "docs", include: [DOCS], sequence: { groupOrder: 1 } },
      },
      {
        extends: true,
        test: {
          name: "suite",
          globalSetup: ["test/setup/global.ts"],
          include: ["test/**/*.test.ts"],
          exclude: [...configDefaults.exclude, UNIT, DEMO, FEED_SQLITE, FEED_MYSQL, FEED_OUTSIDE],
          sequence: { groupOrder: 1 },
          // test/types/*.test-d.ts are type tests: `npm run typecheck` (tsc over test/, before vitest in `npm test`) checks them; a second tsc here cost 15-40 s.
        },
      },
      {
        extends: true,
        test: { name: "cluster", include: ON_CLUSTER, globalSetup: ["test/setup/global-cluster.ts"], sequence: { groupOrder: 2 } },
      },
      {
        extends: true,
        test: {
          name: "fail-fast",
          include: ON_CLUSTER,
          globalSetup: ["test/setup/global.ts"],
          env: { PTC_REDIS_OPTIONS: "fail-fast" },
          sequence: { groupOrder: 3 },
        },
      },
      {
        extends: true,
        test: { name: "demo", include: [DEMO], globalSetup: ["test/setup/global.ts"], sequence: { groupOrder: 4 } },
      },
      {
        extends: true,
        test: { name: "mariadb", include: ON_MARIADB, globalSetup: ["test/setup/global.ts"], env: { PTC_DB: "mysql" }, ...SIDE_BY_SIDE },
      },
      {
        extends: true,
        test: { name: "sqlite", include: ON_SQLITE, globalSetup: ["test/setup/global.ts"], env: { PTC_DB: "sqlite" }, ...SIDE_BY_SIDE },
      },
      {
        extends: true,
        test: {
          name: "mariadb-rm",
          include: ON_RELATION_MODE_PRISMA,
          globalSetup: ["test/setup/global.ts"],
          env: { PTC_DB: "mysql-rm" },
          ...SIDE_BY_SIDE,
        },
      },
      matrixProject("node-redis", "node-redis", ON_NODE_REDIS),
      matrixProject("node-redis-cluster", "node-redis", ON_NODE_REDIS_CLUSTER, "test/setup/global-cluster.ts"),
      matrixProject("node-redis6", "node-redis6", ON_OTHER_CLIENTS),
      matrixProject("ioredis6", "ioredis6", ON_OTHER_CLIENTS),
      matrixProject("iovalkey", "iovalkey", ON_OTHER_CLIENTS),
    ],
  },
});
