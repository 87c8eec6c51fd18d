/**
 * Declaring how results vary: `prismaCache({ scope })` with a function of the
 * request context, `cacheScope` with a function, `cacheNeutral`, computed
 * fields per client, a failing scope, write-through next to opaque clients,
 * per-request derived clients, and the database fingerprint. Real Postgres
 * (RLS under a non-superuser role) and real Redis.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { Redis } from "ioredis";
import { describe, expect, it } from "vitest";
import { Prisma } from "../../generated/prisma/client";
import { cacheNeutral, cacheScope, prismaCache, type CacheEvent, type CacheOptions } from "../../src/index";
import { createClient, redisUrl, uniqueNamespace } from "../support/db";
import { useTenantDatabase } from "../support/harness";
import { FINGERPRINT_TAG, readAll, statements } from "../support/isolation-scenarios";
import { scopedTo, TENANTS } from "../support/tenants";

const t = useTenantDatabase();
const redis = () => t.redis();

/** A plain client (on `url`) with a statement counter. */
function plain(url = t.db.url) {
  const made = createClient(url);
  t.cleanup(() => made.prisma.$disconnect());
  return made;
}

/** A cached client on its own namespace, with Redis unless `redis: undefined` is passed. */
function cached(options: CacheOptions = {}, url = t.db.url) {
  const { prisma, counter } = plain(url);
  const events: CacheEvent[] = [];
  const c = prisma.$extends(prismaCache({ redis: redis(), ttl: 60, namespace: uniqueNamespace(), ...options }));
  c.$cache.on((e) => events.push(e));
  t.cleanup(() => c.$cache.close());
  return { prisma: c, base: prisma, counter, events };
}

/** Row-level security from the request context: the customer id in an AsyncLocalStorage store. */
const als = new AsyncLocalStorage<number>();
const rlsFromContext = Prisma.defineExtension((prisma) =>
  prisma.$extends({
    name: "rls-from-context",
    query: {
      $allModels: {
        async $allOperations({ args, query }) {
          const id = als.getStore();
          const [, result] = await prisma.$transaction([
            prisma.$executeRaw`SELECT set_config('app.customer', ${id === undefined ? "" : String(id)}, TRUE)`,
            query(args),
          ]);
          return result;
        },
      },
    },
  }),
);

describe("a scope read from the request context", () => {
  const customers = () => [t.seeded.t1.customers[0]!, t.seeded.t1.customers[1]!, t.seeded.t2.customers[0]!];

  it("prismaCache({ scope }) covers the query extensions of the client it is applied to", async () => {
    const { prisma: base, counter } = plain(t.rlsUrl);
    const c = base.$extends(rlsFromContext).$extends(prismaCache({ redis: redis(), ttl: 60, namespace: uniqueNamespace(), scope: () => als.getStore() }));
    t.cleanup(() => c.$cache.close());
    const truth = plain(t.rlsUrl).prisma.$extends(rlsFromContext);
    for (let round = 0; round < 2; round++) {
      if (round === 1) counter.reset();
      for (const id of customers()) {
        const got = await als.run(id, () => readAll(c as never, t.seeded));
        expect(got).toEqual(await als.run(id, () => readAll(truth as never, t.seeded)));
        // RLS really applies: only this customer's orders.
        expect((got[3] as { customerId: number }[]).every((o) => o.customerId === id)).toBe(true);
      }
    }
    expect(statements(counter)).toBe(0);
    expect(c.$cache.stats().bypasses).toBe(0);
  });

  it("cacheScope(() => ...) does the same for an extension chained after the cache", async () => {
    const { prisma: base, counter } = plain(t.rlsUrl);
    const c = base.$extends(prismaCache({ redis: redis(), ttl: 60, namespace: uniqueNamespace() })).$extends(cacheScope(() => als.getStore(), rlsFromContext));
    t.cleanup(() => c.$cache.close());
    const truth = plain(t.rlsUrl).prisma.$extends(rlsFromContext);
    for (let round = 0; round < 2; round++) {
      if (round === 1) counter.reset();
      for (const id of customers()) {
        expect(await als.run(id, () => readAll(c as never, t.seeded))).toEqual(await als.run(id, () => readAll(truth as never, t.seeded)));
      }
    }
    expect(statements(counter)).toBe(0);
  });

  it("a scope function that throws: the read goes to the database, counted and reported", async () => {
    const x = cached();
    const failing = x.prisma.$extends(
      cacheScope(() => {
        throw new Error("no request context");
      }, scopedTo("t2")),
    );
    const want = await plain()
      .prisma.$extends(scopedTo("t2"))
      .customer.findMany({ orderBy: { id: "asc" } });
    expect(await failing.customer.findMany({ orderBy: { id: "asc" } })).toEqual(want);
    expect(await failing.customer.findMany({ orderBy: { id: "asc" } })).toEqual(want);
    expect(x.prisma.$cache.stats().bypassReasons["scope-error"]).toBe(2);
    const event = x.events.find((e) => e.type === "bypass");
    expect(event).toMatchObject({ type: "bypass", reason: "scope-error", model: "Customer", operation: "findMany" });
    expect((event as { error?: Error }).error?.message).toBe("no request context");
  });
});

describe("extensions that do not change results, and computed fields", () => {
  it("cacheNeutral: reads through a logging extension are cached; without it they are not", async () => {
    const seen: string[] = [];
    const logger = Prisma.defineExtension({
      name: "query-log",
      query: {
        $allModels: {
          $allOperations({ model, operation, args, query }) {
            seen.push(`${model}.${operation}`);
            return query(args);
          },
        },
      },
    });
    const x = cached();
    const neutral = x.prisma.$extends(cacheNeutral(logger));
    const undeclared = x.prisma.$extends(logger);
    const want = await x.base.customer.findMany({ orderBy: { id: "asc" } });
    expect(await neutral.customer.findMany({ orderBy: { id: "asc" } })).toEqual(want);
    expect(await neutral.customer.findMany({ orderBy: { id: "asc" } })).toEqual(want);
    expect(seen).toEqual(["Customer.findMany"]); // the miss ran through it; the hit did not need to
    x.counter.reset();
    expect(await undeclared.customer.findMany({ orderBy: { id: "asc" } })).toEqual(want);
    expect(statements(x.counter)).toBe(1);
    expect(x.prisma.$cache.stats()).toMatchObject({ hits: { l1: 1 }, misses: 1, bypassReasons: { "query-extension": 1 } });
  });

  it("clients with other computed fields never share entries, and each is cached", async () => {
    const x = cached();
    const labelled = x.prisma.$extends({ result: { customer: { label: { needs: { name: true }, compute: (c: { name: string }) => c.name.toUpperCase() } } } });
    const other = x.prisma.$extends({ result: { customer: { label: { needs: { name: true }, compute: (c: { name: string }) => c.name.length } } } });
    const id = t.seeded.t2.customers[1]!;
    const row = await x.base.customer.findUnique({ where: { id } });
    // Fields only: Prisma marks computed-field results with a symbol-keyed inspector.
    const fields = (v: object | null) => v && Object.fromEntries(Object.entries(v));
    for (let i = 0; i < 2; i++) {
      expect(await x.prisma.customer.findUnique({ where: { id } })).toEqual(row);
      expect(fields(await labelled.customer.findUnique({ where: { id } }))).toEqual({ ...row, label: row!.name.toUpperCase() });
      expect(fields(await other.customer.findUnique({ where: { id } }))).toEqual({ ...row, label: row!.name.length });
    }
    expect(x.prisma.$cache.stats()).toMatchObject({ hits: { l1: 3 }, misses: 3, bypasses: 0 });
  });
});

describe("write-through next to clients the cache cannot see into", () => {
  it("a write stores its result only while every client of the cache is plain", async () => {
    const x = cached({ models: { Customer: { invalidation: "write-through" } } });
    const id = t.seeded.t3.customers[0]!;
    await x.prisma.customer.update({ where: { id }, data: { name: "wt 1" } });
    x.counter.reset();
    expect((await x.prisma.customer.findUnique({ where: { id } }))?.name).toBe("wt 1");
    expect(statements(x.counter)).toBe(0); // stored by the write
    // Once an opaque client exists, the write hook cannot tell which client wrote: it only invalidates.
    const scoped = x.prisma.$extends(scopedTo("t3"));
    await scoped.customer.update({ where: { id }, data: { name: "wt 2" } });
    x.counter.reset();
    expect((await x.prisma.customer.findUnique({ where: { id } }))?.name).toBe("wt 2");
    expect(statements(x.counter)).toBe(1);
  });
});

describe("a derived client per request", () => {
  it("1,000 requests through prisma.$extends(forTenant(id)) open no Redis connection and share one runtime and one L1", async () => {
    // An ioredis client: the test counts the connections it duplicates.
    const r = new Redis(redisUrl(), { maxRetriesPerRequest: 1 });
    t.cleanup(() => r.disconnect());
    let duplicates = 0;
    const duplicate = r.duplicate.bind(r);
    r.duplicate = ((...args: Parameters<Redis["duplicate"]>) => {
      duplicates++;
      return duplicate(...args);
    }) as Redis["duplicate"];
    const { prisma: base, counter } = plain();
    // A long heartbeat: on a loaded machine a late heartbeat reply would send reads to L2, which is not this test's subject.
    const c = base.$extends(prismaCache({ redis: r, ttl: 60, namespace: uniqueNamespace(), heartbeat: 60_000 }));
    t.cleanup(() => c.$cache.close());
    await c.$cache.ready();
    await c.customer.count();
    const opened = duplicates;
    const truth = new Map<string, unknown>();
    const truthBase = plain().prisma;
    for (const tenant of TENANTS) truth.set(tenant, await truthBase.$extends(scopedTo(tenant)).customer.findMany({ orderBy: { id: "asc" } }));
    c.$cache.resetStats();
    counter.reset();
    for (let i = 0; i < 1000; i++) {
      const tenant = TENANTS[i % TENANTS.length]!;
      const request = c.$extends(cacheScope(tenant, scopedTo(tenant)));
      expect(request.$cache).toBe(c.$cache);
      expect(await request.customer.findMany({ orderBy: { id: "asc" } })).toEqual(truth.get(tenant));
    }
    expect(duplicates).toBe(opened);
    // One entry per tenant: 3 misses, then L1 hits for every other request.
    expect(c.$cache.stats()).toMatchObject({ misses: 3, hits: { l1: 997, l2: 0 }, fills: 3 });
    expect(statements(counter)).toBe(3);
  });
});

describe("the database fingerprint", () => {
  it("is taken once per cache, before its first L2 read, with one query, also as a role without superuser rights", async () => {
    for (const url of [t.db.url, t.rlsUrl]) {
      const x = cached({}, url);
      await Promise.all([x.prisma.customer.count(), x.prisma.customer.findMany(), x.prisma.tag.findMany()]);
      await x.prisma.customer.findFirst();
      const fingerprints = x.counter.log.filter((q) => q.sql.includes(FINGERPRINT_TAG));
      expect(fingerprints).toHaveLength(1);
      expect(fingerprints[0]!.sql).toMatch(/current_database\(\)/);
    }
  });

  it("when it cannot be taken, reads are served from the database and L1 only, and the failure is reported", async () => {
    const ns = uniqueNamespace();
    const x = cached({ namespace: ns });
    x.counter.failNext(new Error("permission denied for function pg_control_system"), (q) => q.sql.includes(FINGERPRINT_TAG));
    x.counter.failNext(new Error("permission denied for table pg_database"), (q) => q.sql.includes(FINGERPRINT_TAG));
    const want = await x.base.customer.findMany({ orderBy: { id: "asc" } });
    expect(await x.prisma.customer.findMany({ orderBy: { id: "asc" } })).toEqual(want);
    expect(x.events.filter((e) => e.type === "fingerprint-error")).toHaveLength(1);
    // Nothing was written to Redis under a key that could belong to another database.
    const [, keys] = await t.admin().scan("0", "MATCH", `${ns}:e:*`, "COUNT", 1000);
    expect(keys).toEqual([]);
    // L1 still serves it once the bus is live (its first subscription flushes L1, which may come after the first read).
    await x.prisma.$cache.ready();
    expect(await x.prisma.customer.findMany({ orderBy: { id: "asc" } })).toEqual(want);
    const hits = x.prisma.$cache.stats().hits.l1;
    expect(await x.prisma.customer.findMany({ orderBy: { id: "asc" } })).toEqual(want);
    expect(x.prisma.$cache.stats().hits.l1).toBe(hits + 1);
    expect(x.prisma.$cache.stats().hits.l2).toBe(0);
  });

  it("is not taken without Redis (L1 is private to one client, hence to one database)", async () => {
    const x = cached({ redis: undefined });
    await x.prisma.customer.count();
    expect(x.counter.log.filter((q) => q.sql.includes(FINGERPRINT_TAG))).toHaveLength(0);
  });
});
