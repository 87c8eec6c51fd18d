/**
 * Isolation: a cached read returns only what the same query, through the
 * same client, in the same context, returns from the database. Real
 * Postgres (with a real RLS policy and a non-superuser role) and real Redis.
 */
import { fork } from "node:child_process";
import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PrismaClient } from "../../generated/prisma/client";
import { createClient, createTestDatabase, redisUrl, uniqueNamespace, type TestDatabase } from "../support/db";
import { useTenantDatabase } from "../support/harness";
import { buildScenario, readAll, READS_PER_CALLER, statements, type Scenario, type ScenarioConfig, type ScenarioName } from "../support/isolation-scenarios";
import { seedTenants } from "../support/tenants";
import { prismaCache, type CacheEvent, type CacheStats } from "../../src/index";

const t = useTenantDatabase();
const redis = () => t.redis();

function scenario(name: ScenarioName, declared: boolean, namespace: string, options?: ScenarioConfig["options"]): Scenario {
  const s = buildScenario(name, { url: t.db.url, rlsUrl: t.rlsUrl, namespace, seeded: t.seeded, declared, options }, redis);
  t.cleanup(() => s.close());
  return s;
}

/** Every caller's reads, checked against its uncached client. */
async function expectEachCallerSeesItsOwn(s: Scenario): Promise<unknown[][]> {
  const all: unknown[][] = [];
  for (const c of s.tenants) {
    const got = await readAll(c.cached, t.seeded);
    const want = await readAll(c.truth, t.seeded);
    expect(got, c.label).toEqual(want);
    all.push(want);
  }
  return all;
}

/** The scenario in a separate OS process on the same namespace: its results, statements and stats. */
function inChildProcess(name: ScenarioName, declared: boolean, namespace: string): Promise<{ results: unknown[][]; statements: number; stats: CacheStats[] }> {
  const script = fileURLToPath(new URL("../support/isolation-child.ts", import.meta.url));
  const config = { name, redisUrl: redisUrl(), url: t.db.url, rlsUrl: t.rlsUrl, namespace, seeded: t.seeded, declared };
  const child = fork(script, [JSON.stringify(config)], { execArgv: ["--import", "tsx"], stdio: ["ignore", "inherit", "inherit", "ipc"] });
  return new Promise((resolve, reject) => {
    child.once("message", (m) => resolve(m as never));
    child.once("error", reject);
    child.once("exit", (code) => code !== 0 && reject(new Error(`isolation child exited with ${code}`)));
  });
}

const sum = (stats: CacheStats[], pick: (s: CacheStats) => number) => stats.reduce((n, s) => n + pick(s), 0);

/** The setups whose callers differ in a way the cache cannot see, by default. */
const OPAQUE: readonly ScenarioName[] = ["S1", "S2", "S4"];

describe.each(["S1", "S2", "S3", "S4"] as const)("%s", (name) => {
  it("by default, every caller gets what its own uncached client returns, on repeated reads and in a second process", async () => {
    const ns = uniqueNamespace();
    const s = scenario(name, false, ns);
    const truth = await expectEachCallerSeesItsOwn(s);
    s.counter.reset();
    await expectEachCallerSeesItsOwn(s);
    const stats = s.tenants.map((c) => c.cached.$cache.stats());
    if (OPAQUE.includes(name)) {
      // Undeclared query extensions: not cached, and said so.
      expect(statements(s.counter)).toBeGreaterThanOrEqual(s.tenants.length * READS_PER_CALLER);
      expect(sum(stats, (x) => x.hits.l1 + x.hits.l2)).toBe(0);
      expect(sum(stats, (x) => x.bypassReasons["query-extension"])).toBeGreaterThan(0);
      const bypass = s.events.find((e) => e.type === "bypass");
      expect(bypass).toMatchObject({ type: "bypass", reason: "query-extension" });
      expect(bypass && "detail" in bypass && bypass.detail).toMatch(/cacheScope/);
    } else {
      // Global omit is keyed: cached by default, and still apart.
      expect(statements(s.counter)).toBe(0);
    }
    // A second process: an in-process one (own clients, runtimes and L1), and, where the default caches, an OS process.
    const second = scenario(name, false, ns);
    expect(await Promise.all(second.tenants.map((c) => readAll(c.cached, t.seeded)))).toEqual(truth);
    if (!OPAQUE.includes(name)) {
      expect(statements(second.counter)).toBe(0);
      const child = await inChildProcess(name, false, ns);
      expect(child.results).toEqual(truth);
      expect(child.statements).toBe(0);
      expect(sum(child.stats, (x) => x.hits.l2)).toBe(s.tenants.length * READS_PER_CALLER);
    }
  });

  it("with a declared scope, reads are cached per caller: L1, L2, a second process, and after writes", async () => {
    const ns = uniqueNamespace();
    const s = scenario(name, true, ns);
    const truth = await expectEachCallerSeesItsOwn(s);
    // L1: a second read of each caller's queries reaches no database.
    s.counter.reset();
    await expectEachCallerSeesItsOwn(s);
    expect(statements(s.counter)).toBe(0);
    expect(
      sum(
        s.tenants.map((c) => c.cached.$cache.stats()),
        (x) => x.bypasses,
      ),
    ).toBe(0);
    // L2: a second "process" in this one (own clients and runtimes, no L1).
    const l2 = scenario(name, true, ns, { l1: false });
    await expectEachCallerSeesItsOwn(l2);
    expect(statements(l2.counter)).toBe(0);
    // Another OS process.
    const child = await inChildProcess(name, true, ns);
    expect(child.results).toEqual(truth);
    expect(child.statements).toBe(0);
    expect(sum(child.stats, (x) => x.hits.l2)).toBe(s.tenants.length * READS_PER_CALLER);
    // Writes through one caller's client are seen by it, and invalidate for everyone.
    const first = s.tenants[0]!;
    const own = t.seeded.t1.customers[0]!;
    await first.cached.customer.update({ where: { id: own }, data: { name: `renamed ${Math.random()}` } });
    await first.cached.order.create({ data: { tenantId: "t1", customerId: own, total: 7 } });
    await expectEachCallerSeesItsOwn(s);
    await expectEachCallerSeesItsOwn(l2);
  });
});

describe("two databases sharing one Redis", () => {
  let other: TestDatabase;
  beforeAll(async () => {
    other = await createTestDatabase();
    const { prisma } = createClient(other.url);
    await seedTenants(prisma, "other");
    await prisma.$disconnect();
  });
  afterAll(() => other?.drop());

  it("with the default namespace, each reads its own rows (entries are keyed by the database)", async () => {
    const a = createClient(t.db.url);
    const b = createClient(other.url);
    const ca = a.prisma.$extends(prismaCache({ redis: redis(), ttl: 60 }));
    const cb = b.prisma.$extends(prismaCache({ redis: redis(), ttl: 60 }));
    const cb2 = createClient(other.url);
    const cb2c = cb2.prisma.$extends(prismaCache({ redis: redis(), ttl: 60, l1: false }));
    try {
      const id = t.seeded.t3.customers[1]!;
      const fromA = await ca.customer.findUnique({ where: { id } });
      const fromB = await cb.customer.findUnique({ where: { id } });
      expect(fromA?.name).toMatch(/^db /);
      expect(fromB?.name).toMatch(/^other /);
      expect(fromB).toEqual(await b.prisma.customer.findUnique({ where: { id } }));
      expect(cb.$cache.stats()).toMatchObject({ hits: { l1: 0, l2: 0 }, misses: 1 });
      // Both are cached: B's second client finds B's entry in L2.
      b.counter.reset();
      cb2.counter.reset();
      expect(await cb2c.customer.findUnique({ where: { id } })).toEqual(fromB);
      expect(cb2c.$cache.stats().hits.l2).toBe(1);
      expect(statements(cb2.counter)).toBe(0);
      expect(await ca.customer.findUnique({ where: { id } })).toEqual(fromA);
      expect(ca.$cache.stats().hits.l1).toBe(1);
    } finally {
      await Promise.all([ca.$disconnect(), cb.$disconnect(), cb2c.$disconnect()]);
    }
  });

  it("two schemas of one database (the adapter's schema option), default namespace: each reads its own rows", async () => {
    const admin = new pg.Client({ connectionString: t.db.url });
    await admin.connect();
    const id = t.seeded.t2.customers[0]!;
    try {
      await admin.query(`CREATE SCHEMA IF NOT EXISTS tenant_b`);
      await admin.query(`CREATE TABLE IF NOT EXISTS tenant_b."Customer" (LIKE public."Customer" INCLUDING ALL)`);
      await admin.query(
        `INSERT INTO tenant_b."Customer" (id, "tenantId", email, name) VALUES ($1, 't2', 'b@schema.example', 'schema b customer') ON CONFLICT DO NOTHING`,
        [id],
      );
    } finally {
      await admin.end();
    }
    const inB = new PrismaClient({ adapter: new PrismaPg({ connectionString: t.db.url }, { schema: "tenant_b" }) });
    const inPublic = new PrismaClient({ adapter: new PrismaPg({ connectionString: t.db.url }) });
    const cb = inB.$extends(prismaCache({ redis: redis(), ttl: 60 }));
    const cp = inPublic.$extends(prismaCache({ redis: redis(), ttl: 60 }));
    try {
      const fromPublic = await cp.customer.findUnique({ where: { id } });
      const fromB = await cb.customer.findUnique({ where: { id } });
      expect(fromB?.name).toBe("schema b customer");
      expect(fromPublic?.name).not.toBe("schema b customer");
      expect(fromPublic).toEqual(await inPublic.customer.findUnique({ where: { id } }));
      expect(cb.$cache.stats()).toMatchObject({ hits: { l2: 0 }, misses: 1 });
    } finally {
      await Promise.all([cb.$disconnect(), cp.$disconnect()]);
    }
  });

  it("two database users of one database (RLS applies to one of them), default namespace: each reads what it may", async () => {
    const owner = createClient(t.db.url);
    const restricted = createClient(t.rlsUrl);
    const co = owner.prisma.$extends(prismaCache({ redis: redis(), ttl: 60 }));
    const cr = restricted.prisma.$extends(prismaCache({ redis: redis(), ttl: 60 }));
    try {
      const all = await co.order.findMany({ orderBy: { id: "asc" } });
      expect(all.length).toBeGreaterThan(0);
      // The restricted role, with no customer set, sees no order: not the owner's cached list.
      const events: CacheEvent[] = [];
      cr.$cache.on((e) => events.push(e));
      expect(await cr.order.findMany({ orderBy: { id: "asc" } })).toEqual([]);
      expect(await cr.order.findMany({ orderBy: { id: "asc" } })).toEqual(await restricted.prisma.order.findMany({ orderBy: { id: "asc" } }));
      // Row-level security applies to it and no scope is declared: its reads of Order are not cached, and it says so.
      expect(cr.$cache.stats()).toMatchObject({ hits: { l1: 0, l2: 0 }, bypassReasons: { "row-level-security": 2 } });
      expect(events.find((e) => e.type === "bypass")).toMatchObject({ reason: "row-level-security" });
      // Tables without row-level security stay cached for it.
      await cr.customer.count();
      await cr.customer.count();
      expect(cr.$cache.stats().hits.l1).toBe(1);
      // The owner (row-level security does not apply to it) is cached.
      await co.order.findMany({ orderBy: { id: "asc" } });
      expect(co.$cache.stats().hits.l1).toBe(1);
    } finally {
      await Promise.all([co.$disconnect(), cr.$disconnect()]);
    }
  });

  it("connections with their own session setting (RLS from `-c app.customer=…`): not cached undeclared; declared with prismaCache({ scope }), each reads its own rows", async () => {
    // A setting made per connection is invisible to the cache (Postgres does not list custom settings), but row-level security is not.
    const [one, two] = [t.seeded.t1.customers[0]!, t.seeded.t2.customers[1]!];
    const pooled = (customer: number) => new PrismaClient({ adapter: new PrismaPg({ connectionString: t.rlsUrl, options: `-c app.customer=${customer}` }) });
    const [p1, p2] = [pooled(one), pooled(two)];
    const c1 = p1.$extends(prismaCache({ redis: redis(), ttl: 60, scope: { customer: one } }));
    const c2 = p2.$extends(prismaCache({ redis: redis(), ttl: 60, scope: { customer: two } }));
    try {
      const orders1 = await c1.order.findMany({ orderBy: { id: "asc" } });
      const orders2 = await c2.order.findMany({ orderBy: { id: "asc" } });
      expect(orders1.length).toBeGreaterThan(0);
      expect(orders1.every((o) => o.customerId === one)).toBe(true);
      expect(orders2.length).toBeGreaterThan(0);
      expect(orders2.every((o) => o.customerId === two)).toBe(true);
      expect(await c2.order.findMany({ orderBy: { id: "asc" } })).toEqual(orders2);
      expect(c2.$cache.stats()).toMatchObject({ hits: { l1: 1, l2: 0 }, misses: 1 });
      // Undeclared, such a pool's reads of a table with row-level security are not cached: never another pool's rows.
      const p3 = pooled(two);
      const c3 = p3.$extends(prismaCache({ redis: redis(), ttl: 60 }));
      try {
        expect(await c3.order.findMany({ orderBy: { id: "asc" } })).toEqual(orders2);
        expect(c3.$cache.stats()).toMatchObject({ hits: { l1: 0, l2: 0 }, bypassReasons: { "row-level-security": 1 } });
      } finally {
        await c3.$disconnect();
      }
    } finally {
      await Promise.all([c1.$disconnect(), c2.$disconnect()]);
    }
  });

  it("with distinct namespaces, both are cached", async () => {
    const a = createClient(t.db.url);
    const b = createClient(other.url);
    const ca = a.prisma.$extends(prismaCache({ redis: redis(), ttl: 60, namespace: uniqueNamespace() }));
    const cb = b.prisma.$extends(prismaCache({ redis: redis(), ttl: 60, namespace: uniqueNamespace() }));
    try {
      for (let i = 0; i < 2; i++) {
        expect(await ca.customer.findMany({ orderBy: { id: "asc" } })).toEqual(await a.prisma.customer.findMany({ orderBy: { id: "asc" } }));
        expect(await cb.customer.findMany({ orderBy: { id: "asc" } })).toEqual(await b.prisma.customer.findMany({ orderBy: { id: "asc" } }));
      }
      expect(ca.$cache.stats()).toMatchObject({ hits: { l1: 1 }, misses: 1 });
      expect(cb.$cache.stats()).toMatchObject({ hits: { l1: 1 }, misses: 1 });
    } finally {
      await Promise.all([ca.$disconnect(), cb.$disconnect()]);
    }
  });
});
