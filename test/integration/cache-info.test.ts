/**
 * Per-query cache info (`withCacheInfo()`) and the counters by model and
 * operation (`stats().byModel`), on real Postgres and Redis.
 */
import { beforeEach, describe, expect, it } from "vitest";
import { Prisma } from "../../generated/prisma/client";
import { selects, useSeededDatabase } from "../support/harness";
import { mentionsTable, sqlIdent, uniqueNamespace } from "../support/db";
import { rowDep } from "../../src/deps/ids";

const t = useSeededDatabase();

/** Lets 5 ms of wall time pass: the entries of these tests live 1 ms, so this only moves the clock past their ttl. */
const pastTtl = () => new Promise((r) => setTimeout(r, 5));

describe("withCacheInfo()", () => {
  let c: ReturnType<typeof t.cached>;
  beforeEach(() => {
    c = t.cached();
    c.counter.reset();
  });

  it("reports a miss, then an L1 hit, with the entry's key, age, ttl and dependencies", async () => {
    const where = { where: { id: t.ids.users.alice } };
    const plain = await c.base.user.findUnique(where);
    c.counter.reset();
    const first = await c.prisma.user.findUnique(where).withCacheInfo();
    expect(first.data).toEqual(plain);
    expect(first.info.status).toBe("miss");
    expect(first.info.age).toBe(0);
    expect(first.info.ttl).toBeGreaterThan(59_000);
    expect(first.info.ttl).toBeLessThanOrEqual(60_000);
    expect(first.info.key).toMatch(/^[\w-]{16,}$/);
    expect(first.info.deps).toContain(rowDep("User", [t.ids.users.alice]));
    await pastTtl();
    const second = await c.prisma.user.findUnique(where).withCacheInfo();
    expect(second.data).toEqual(plain);
    expect(second.info.status).toBe("l1");
    expect(second.info.key).toBe(first.info.key);
    expect(second.info.deps).toEqual(first.info.deps);
    expect(second.info.age).toBeGreaterThanOrEqual(5);
    expect(second.info.ttl).toBeLessThan(first.info.ttl);
    expect(selects(c.counter)).toBe(1);
    // The plain await and withCacheInfo() share the entry.
    expect(await c.prisma.user.findUnique(where)).toEqual(plain);
    expect(selects(c.counter)).toBe(1);
  });

  it("is lazy like the read itself: nothing runs until it is awaited", async () => {
    const pending = c.prisma.post.findMany({ orderBy: { id: "asc" } }).withCacheInfo();
    expect(selects(c.counter)).toBe(0);
    const { data, info } = await pending;
    expect(data.length).toBeGreaterThan(0);
    expect(info.status).toBe("miss");
    // A list depends on the rows it returned and on the set of rows (no create or delete), not on its whole model.
    expect(info.deps).toContain("s:Post");
    expect(info.deps).toContain(`r:Post:[#${data[0]!.id}]`);
    expect(info.deps).not.toContain("m:Post");
  });

  it("shows the rows a select without the primary key recorded, by the ids the query added", async () => {
    const { data, info } = await c.prisma.user.findMany({ select: { email: true }, orderBy: { id: "asc" } }).withCacheInfo();
    expect(data[0]).toEqual({ email: "alice@example.com" });
    expect(info.deps).toContain(`r:User:[#${t.ids.users.alice}]`);
    expect(info.deps).not.toContain("m:User");
  });

  it("reports an L2 hit in another process's cache sharing the Redis", async () => {
    const namespace = uniqueNamespace();
    const writer = t.cached({ redis: t.redis() }, namespace);
    const reader = t.cached({ redis: t.redis(), l1: false }, namespace);
    const where = { where: { id: t.ids.posts.hello } };
    expect((await writer.prisma.post.findUnique(where).withCacheInfo()).info.status).toBe("miss");
    const { data, info } = await reader.prisma.post.findUnique(where).withCacheInfo();
    expect(data).toEqual(await reader.base.post.findUnique(where));
    expect(info.status).toBe("l2");
    expect(selects(reader.counter)).toBe(1);
    expect(info.deps).toContain(rowDep("Post", [t.ids.posts.hello]));
  });

  it("reports a stale hit within swr, from L1 and from L2", async () => {
    const namespace = uniqueNamespace();
    const a = t.cached({ redis: t.redis() }, namespace);
    const b = t.cached({ redis: t.redis(), l1: false }, namespace);
    const args = { where: { published: true }, orderBy: { id: "asc" as const }, cache: { ttl: 0.001, swr: 60 } };
    await a.prisma.post.findMany(args);
    await pastTtl();
    // L2 first: its hit starts a refresh of the Redis entry, which leaves a's L1 entry as it is.
    const fromL2 = await b.prisma.post.findMany(args).withCacheInfo();
    expect(fromL2.info.status).toBe("stale");
    expect(fromL2.info.ttl).toBe(0);
    const fromL1 = await a.prisma.post.findMany(args).withCacheInfo();
    expect(fromL1.info.status).toBe("stale");
    expect(fromL1.info.age).toBeGreaterThanOrEqual(5);
  });

  it("reports a read that joined another caller's query as coalesced", async () => {
    const gate = c.counter.gate((q) => /^\s*select/i.test(q.sql) && mentionsTable(q.sql, "User"));
    const where = { where: { id: t.ids.users.bob } };
    const leader = c.prisma.user.findUnique(where).withCacheInfo();
    const leading = leader.then((r) => r);
    await gate.opened;
    const joiner = c.prisma.user
      .findUnique(where)
      .withCacheInfo()
      .then((r) => r);
    // Let the joiner reach the running flight before the query returns.
    await new Promise((r) => setImmediate(r));
    gate.release();
    const [l, j] = await Promise.all([leading, joiner]);
    expect(l.info.status).toBe("miss");
    expect(j.info.status).toBe("coalesced");
    expect(j.data).toEqual(l.data);
    expect(j.info.key).toBe(l.info.key);
    expect(selects(c.counter)).toBe(1);
  });

  it("reports a grace value served when the database fails", async () => {
    const g = t.cached({ grace: 60 });
    const args = { where: { id: t.ids.users.alice }, cache: { ttl: 0.001 } };
    await g.prisma.user.findUnique(args);
    await pastTtl();
    g.counter.failNext(new Error("database down"));
    const { data, info } = await g.prisma.user.findUnique(args).withCacheInfo();
    expect(info.status).toBe("grace");
    expect(data?.id).toBe(t.ids.users.alice);
    expect(info.age).toBeGreaterThanOrEqual(5);
  });

  it("reports bypass, never throws, for reads the cache does not answer", async () => {
    const off = await c.prisma.user.findMany({ cache: false, orderBy: { id: "asc" } }).withCacheInfo();
    expect(off.info).toEqual({ status: "bypass", key: undefined, age: 0, ttl: 0, deps: [] });
    expect(off.data).toEqual(await c.base.user.findMany({ orderBy: { id: "asc" } }));
    const inTx = await c.prisma.$transaction(async (tx) => tx.user.count().withCacheInfo());
    expect(inTx.info.status).toBe("bypass");
    expect(inTx.data).toBe(await c.base.user.count());
    const noTtl = t.cached({ ttl: 0 });
    expect((await noTtl.prisma.post.count().withCacheInfo()).info.status).toBe("bypass");
  });

  it("rejects with Prisma's own error when an *OrThrow read finds nothing", async () => {
    const missing = c.prisma.user.findUniqueOrThrow({ where: { id: 987_654 } }).withCacheInfo();
    await expect(missing).rejects.toMatchObject({ code: "P2025" });
  });

  it("works on $queryRawCached, which is lazy like $queryRaw", async () => {
    const query = () => c.prisma.$queryRawCached<{ n: number }[]>(Prisma.sql`SELECT count(*) AS n FROM ${sqlIdent("User")}`, { models: ["User"] });
    const pending = query().withCacheInfo();
    expect(selects(c.counter)).toBe(0);
    const first = await pending;
    expect(first.info.status).toBe("miss");
    expect(first.info.deps).toEqual(["m:User"]);
    const second = await query().withCacheInfo();
    expect(second.info.status).toBe("l1");
    expect(second.data).toEqual(first.data);
    expect(await query()).toEqual(first.data);
    expect(selects(c.counter)).toBe(1);
  });
});

describe("stats().byModel", () => {
  it("counts hits by tier, misses, fills, refused fills and bypasses per model and operation", async () => {
    const namespace = uniqueNamespace();
    const a = t.cached({ redis: t.redis() }, namespace);
    const b = t.cached({ redis: t.redis() }, namespace);
    const where = { where: { id: t.ids.users.alice } };
    await a.prisma.user.findUnique(where);
    await a.prisma.user.findUnique(where);
    await b.prisma.user.findUnique(where);
    await a.prisma.user.findUniqueOrThrow(where);
    await a.prisma.post.count({ cache: false });
    await a.prisma.$queryRawCached(Prisma.sql`SELECT 1 AS one`, { models: ["Post"] });
    // A fill refused: a write lands while the query runs.
    let first = true;
    const gate = a.counter.gateResult((q) => {
      const hit = first && /^\s*select/i.test(q.sql) && mentionsTable(q.sql, "Post");
      if (hit) first = false;
      return hit;
    });
    // Lazy like Prisma's: started by then().
    const racing = a.prisma.post.findMany({ where: { published: true } }).then((r) => r);
    await gate.opened;
    await a.prisma.post.update({ where: { id: t.ids.posts.hello }, data: { views: { increment: 1 } } });
    gate.release();
    await racing;

    const sa = a.prisma.$cache.stats();
    expect(sa.byModel.User?.findUnique).toEqual({ hits: { l1: 1, l2: 0 }, misses: 1, fills: 1, fillsRefused: 0, bypasses: 0 });
    expect(sa.byModel.User?.findUniqueOrThrow).toEqual({ hits: { l1: 1, l2: 0 }, misses: 0, fills: 0, fillsRefused: 0, bypasses: 0 });
    expect(sa.byModel.Post?.count).toEqual({ hits: { l1: 0, l2: 0 }, misses: 0, fills: 0, fillsRefused: 0, bypasses: 1 });
    expect(sa.byModel.Post?.findMany).toEqual({ hits: { l1: 0, l2: 0 }, misses: 1, fills: 0, fillsRefused: 1, bypasses: 0 });
    expect(sa.byModel.$queryRawCached?.queryRaw).toMatchObject({ misses: 1, fills: 1 });
    expect(b.prisma.$cache.stats().byModel.User?.findUnique).toEqual({ hits: { l1: 0, l2: 1 }, misses: 0, fills: 0, fillsRefused: 0, bypasses: 0 });
    // L1 holds the User row's and the raw read's entries (the Post list's fill was refused); l1: false holds none.
    expect(sa.l1.entries).toBe(2);
    expect(sa.l1.bytes).toBeGreaterThan(0);
    expect(t.cached({ l1: false }).prisma.$cache.stats().l1).toEqual({ entries: 0, bytes: 0 });
    // The totals agree with the parts.
    expect(sa.hits.l1).toBe(2);
    expect(sa.fillsRefused).toBe(1);
    expect(sa.bypassReasons["cache-false"]).toBe(1);

    a.prisma.$cache.resetStats();
    expect(a.prisma.$cache.stats().byModel.User?.findUnique).toEqual({ hits: { l1: 0, l2: 0 }, misses: 0, fills: 0, fillsRefused: 0, bypasses: 0 });
    await a.prisma.user.findUnique(where);
    expect(a.prisma.$cache.stats().byModel.User?.findUnique?.hits.l1).toBe(1);
  });
});
