/**
 * Randomized isolation: 3 tenants, 2 processes (separate Prisma clients,
 * Redis connections and L1 tiers on one namespace), seeded reads and writes
 * through tenant clients. Every read must equal what that tenant's uncached
 * client returns at that point. Replay with PTC_ISOLATION_SEED / PTC_ISOLATION_OPS.
 */
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cacheScope, prismaCache } from "../../src/index";
import { Prisma } from "../../generated/prisma/client";
import { byProvider, createClient, createTestDatabase, redisUrl, sqlIdent, uniqueNamespace, type TestDatabase } from "../support/db";
import { mulberry32 } from "../support/prng";
import { scopedTo, seedTenants, TENANTS, type Tenant } from "../support/tenants";

/** `name` with a dot appended, in the run's dialect (`||` is OR on MySQL). */
const appendDot = Prisma.raw(byProvider({ postgresql: "name || '.'", mysql: "CONCAT(name, '.')" }));

const SEED = Number(process.env.PTC_ISOLATION_SEED ?? 20261201);
const OPS = Number(process.env.PTC_ISOLATION_OPS ?? 1200);

let db: TestDatabase;
const cleanups: Array<() => Promise<void> | void> = [];

beforeAll(async () => {
  db = await createTestDatabase();
  const { prisma } = createClient(db.url);
  await seedTenants(prisma);
  await prisma.$disconnect();
});

afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
  await db?.drop();
});

/** One "process": its own client, Redis connection and cache, and a client per tenant. */
function process_(namespace: string) {
  const { prisma } = createClient(db.url);
  const redis = new Redis(redisUrl(), { maxRetriesPerRequest: 1 });
  const cached = prisma.$extends(prismaCache({ redis, ttl: 60, namespace }));
  cleanups.push(
    () => cached.$disconnect(),
    () => redis.disconnect(),
  );
  const tenants = Object.fromEntries(TENANTS.map((t) => [t, cached.$extends(cacheScope(t, scopedTo(t)))])) as Record<Tenant, typeof cached>;
  return { cached, tenants };
}

describe("randomized tenant reads and writes over two processes", () => {
  it(`every read equals the tenant's uncached read (seed ${SEED}, ${OPS} operations)`, async () => {
    const rand = mulberry32(SEED);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
    const ns = uniqueNamespace();
    const procs = [process_(ns), process_(ns)] as const;
    await Promise.all(procs.map((p) => p.cached.$cache.ready()));
    const { prisma: plainBase } = createClient(db.url);
    cleanups.push(() => plainBase.$disconnect());
    const truth = Object.fromEntries(TENANTS.map((t) => [t, plainBase.$extends(scopedTo(t))])) as Record<Tenant, ReturnType<typeof plainBase.$extends>>;
    const log: string[] = [];
    const allCustomers = async () => await plainBase.customer.findMany({ select: { id: true, tenantId: true } });
    let customers = await allCustomers();
    const orderIds = async (t: Tenant) => (await plainBase.order.findMany({ where: { tenantId: t }, select: { id: true } })).map((o) => o.id);

    type Read = (c: (typeof procs)[0]["cached"]) => Promise<unknown>;
    const reads: Array<[string, () => Read]> = [
      ["customers", () => (c) => c.customer.findMany({ orderBy: { id: "asc" } })],
      ["orders", () => (c) => c.order.findMany({ orderBy: { id: "asc" } })],
      [
        "orders of a customer",
        () => {
          const id = pick(customers).id;
          return (c) => c.order.findMany({ where: { customerId: id }, orderBy: { id: "asc" } });
        },
      ],
      [
        "customer by id",
        () => {
          const id = pick(customers).id;
          return (c) => c.customer.findUnique({ where: { id } });
        },
      ],
      ["count", () => (c) => c.order.count()],
      ["sum", () => (c) => c.order.aggregate({ _sum: { total: true } })],
      ["with orders", () => (c) => c.customer.findMany({ include: { orders: { orderBy: { id: "asc" } } }, orderBy: { id: "asc" } })],
      [
        "first big order",
        () => {
          const min = Math.floor(rand() * 2000);
          return (c) => c.order.findFirst({ where: { total: { gte: min } }, orderBy: { id: "asc" } });
        },
      ],
    ];

    let counter = 0;
    let readCount = 0;
    for (let op = 0; op < OPS; op++) {
      const who = rand() < 0.5 ? 0 : 1;
      const p = procs[who];
      const tenant = pick(TENANTS);
      const client = p.tenants[tenant];
      if (rand() < 0.8) {
        readCount++;
        const [what, make] = pick(reads);
        const read = make();
        const got = await read(client as never);
        const want = await read(truth[tenant] as never);
        if (JSON.stringify(got) !== JSON.stringify(want)) {
          throw new Error(
            `op ${op} (${what} for ${tenant} on process ${who}) got ${JSON.stringify(got)}, want ${JSON.stringify(want)}\nlast ops:\n${log.slice(-10).join("\n")}`,
          );
        }
        log.push(`${op} read ${what} ${tenant}@${who}`);
        continue;
      }
      // A write through the tenant's client (or, sometimes, through the plain cached client).
      const writer = rand() < 0.15 ? p.cached : client;
      const own = customers.filter((c) => c.tenantId === tenant);
      const w = rand();
      const n = ++counter;
      if (w < 0.3 && own.length) {
        const id = pick(own).id;
        log.push(`${op} rename customer ${id} (${tenant}@${who})`);
        await writer.customer.update({ where: { id }, data: { name: `${tenant} renamed ${n}` } });
      } else if (w < 0.55 && own.length) {
        const id = pick(own).id;
        log.push(`${op} new order for ${id} (${tenant}@${who})`);
        await writer.order.create({ data: { tenantId: tenant, customerId: id, total: Math.floor(rand() * 3000) } });
      } else if (w < 0.7) {
        const ids = await orderIds(tenant);
        if (ids.length) {
          const id = pick(ids);
          log.push(`${op} delete order ${id} (${tenant}@${who})`);
          await writer.order.delete({ where: { id } });
        }
      } else if (w < 0.85) {
        log.push(`${op} updateMany orders (${tenant}@${who})`);
        await writer.order.updateMany({ where: { tenantId: tenant, total: { lt: 1500 } }, data: { total: { increment: 1 } } });
      } else if (w < 0.95) {
        log.push(`${op} new customer (${tenant}@${who})`);
        await writer.customer.create({
          data: { tenantId: tenant, email: `${tenant}-${n}@random.example`, name: `${tenant} new ${n}`, orders: { create: [{ tenantId: tenant, total: n }] } },
        });
        customers = await allCustomers();
      } else {
        log.push(`${op} $executeRaw (${tenant}@${who})`);
        await writer.$executeRaw`UPDATE ${sqlIdent("Customer")} SET name = ${appendDot} WHERE ${sqlIdent("tenantId")} = ${tenant}`;
      }
      // The other process sees the write once its bump is delivered (the bus bound).
      const sent = p.cached.$cache.lastPublished();
      if (sent) await procs[1 - who].cached.$cache.delivered(sent);
    }
    // The cache did real work: a large share of the reads were hits.
    const stats = procs.map((p) => p.cached.$cache.stats());
    const hits = stats.reduce((s, x) => s + x.hits.l1 + x.hits.l2, 0);
    console.log(`[isolation-random] ${readCount} reads, ${hits} hits`);
    expect(hits).toBeGreaterThan(readCount / 10);
    expect(stats.reduce((s, x) => s + x.bypasses, 0)).toBe(0);
  }, 180_000);
});
