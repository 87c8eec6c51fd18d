import { Redis } from "ioredis";
import type { RedisClient } from "../../src/index";
import { afterAll, beforeAll, describe, inject } from "vitest";
import { prismaCache, type CacheOptions } from "../../src/index";
import { createClient, createTestDatabase, provider, redisUrl, seed, uniqueNamespace, type QueryCounter, type SeedIds, type TestDatabase } from "./db";
import { closeRedis, connectRedis, runsSlowCases, type SlowCases } from "./redis-client";
import { enableRowLevelSecurity, seedTenants, type RowLevelSecurity, type SeededTenants } from "./tenants";

/**
 * Counts the database reads (SELECTs) a counter has seen since its last
 * reset, outside transactions: the reads a cache sends to the database.
 * Statements inside a transaction are left out: reads there bypass the
 * cache, and on MySQL a write reads back the row it wrote inside one (where
 * Postgres and SQLite use RETURNING).
 */
export const selects = (c: QueryCounter): number => c.log.filter((q) => q.kind === "query" && !q.inTransaction && /^\s*select/i.test(q.sql)).length;

/**
 * A group of the Redis suites' slowest cases, of `kind` ({@link runsSlowCases}):
 * registered only where the run's client family runs them, so that the
 * other families' runs leave it out instead of reporting it skipped.
 */
export const slowDescribe = (kind: SlowCases, name: string, fn: () => void): void => {
  if (runsSlowCases(kind)) describe(name, fn);
};

/**
 * Gives a test file its own seeded database, and factories for cached clients
 * and Redis connections that are closed after the file's tests.
 */
export function useSeededDatabase() {
  let db: TestDatabase | undefined;
  const state = { ids: undefined as unknown as SeedIds };
  const cleanups: Array<() => Promise<void> | void> = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    const { prisma } = createClient(db.url);
    state.ids = await seed(prisma);
    await prisma.$disconnect();
  });

  afterAll(async () => {
    for (const c of cleanups) await c();
    await db?.drop();
  });

  const url = (): string => {
    if (!db) throw new Error("the database is created in beforeAll");
    return db.url;
  };

  /** A new Redis connection to the test server, of the run's client family (closed after the file's tests). */
  const redis = (): RedisClient => {
    const r = connectRedis(redisUrl(), { maxRetriesPerRequest: 1 });
    cleanups.push(() => closeRedis(r));
    return r;
  };

  /** An ioredis connection to look at the test server (closed after the file's tests), on one Redis. */
  const admin = (): Redis => {
    const r = new Redis(redisUrl(), { maxRetriesPerRequest: 1 });
    cleanups.push(() => r.disconnect());
    return r;
  };

  /** A plain client with a query counter. */
  const plain = () => {
    const made = createClient(url());
    cleanups.push(() => made.prisma.$disconnect());
    return made;
  };

  /** A cached client (ttl 60 unless overridden) in its own namespace unless one is given. */
  const cached = (options: CacheOptions = {}, namespace = uniqueNamespace()) => {
    const { prisma, counter } = plain();
    const extended = prisma.$extends(prismaCache({ ttl: 60, namespace, ...options }));
    cleanups.push(() => extended.$disconnect());
    return { prisma: extended, counter, base: prisma, namespace };
  };

  return {
    /** Ids of the seeded rows (available from the first test on). */
    get ids(): SeedIds {
      return state.ids;
    },
    url,
    redis,
    admin,
    plain,
    cached,
  };
}

/**
 * Gives a test file its own database seeded with tenants ({@link seedTenants}),
 * row-level security on "Order" for a non-superuser role, a Redis factory,
 * and cleanups run after the file's tests (before the database is dropped).
 */
export function useTenantDatabase() {
  const state = {} as { db: TestDatabase; seeded: SeededTenants; rls: RowLevelSecurity };
  const cleanups: Array<() => Promise<void> | void> = [];
  beforeAll(async () => {
    if (provider() !== "postgresql") throw new Error(`useTenantDatabase: row-level security is Postgres-only (this run is on ${provider()}; PTC_DB)`);
    state.db = await createTestDatabase();
    const { prisma } = createClient(state.db.url);
    state.seeded = await seedTenants(prisma);
    await prisma.$disconnect();
    state.rls = await enableRowLevelSecurity(state.db.url, `ptc_rls_${state.db.name}`);
  });
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
    await state.db?.drop();
    await state.rls?.dropRole(inject("ptcPgAdminUrl"));
  });
  return {
    /** The database (available from the first test on). */
    get db(): TestDatabase {
      return state.db;
    },
    /** Ids of the seeded customers and orders. */
    get seeded(): SeededTenants {
      return state.seeded;
    },
    /** The RLS role's connection URL. */
    get rlsUrl(): string {
      return state.rls.url;
    },
    /** Runs `fn` after the file's tests, newest first. */
    cleanup(fn: () => Promise<void> | void): void {
      cleanups.push(fn);
    },
    /** An ioredis connection to look at the test server, closed after the file's tests. */
    admin(): Redis {
      const r = new Redis(redisUrl(), { maxRetriesPerRequest: 1 });
      cleanups.push(() => r.disconnect());
      return r;
    },
    /** A new Redis connection to the test server, of the run's client family, closed after the file's tests. */
    redis(): RedisClient {
      const r = connectRedis(redisUrl(), { maxRetriesPerRequest: 1 });
      cleanups.push(() => closeRedis(r));
      return r;
    },
  };
}
