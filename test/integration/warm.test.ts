/**
 * Warm starts, on real Postgres and Redis: `$cache.warm(reads)` fills both
 * tiers through the normal read path (hits skip, misses go through the lease
 * and the compare-and-set fill), and `warm: { top }` loads the namespace's
 * most read entries into a new process's L1 from Redis, fresh ones only.
 * Each cached client is one simulated process (its own L1, its own
 * connection pool and query counter). Races are held at gates in the
 * counting adapter; polls wait for Redis to show what was sent without
 * waiting, and no sleep decides an assertion.
 */
import { describe, expect, it } from "vitest";
import { Prisma } from "../../generated/prisma/client";
import { CacheUsageError, type WarmProgress } from "../../src/index";
import { mentionsTable, type QueryInfo, redisUrl, uniqueNamespace } from "../support/db";
import { selects, useSeededDatabase } from "../support/harness";
import { isClusterUrl } from "../support/redis-client";
import { until } from "../support/until";

const t = useSeededDatabase();
const { cached, redis } = t;

const isPostSelect = (q: QueryInfo) => q.kind === "query" && /select/i.test(q.sql) && mentionsTable(q.sql, "Post");

/** Lets pending I/O and microtasks run a few turns, without timers. */
async function turns(n = 10): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
}

/** The namespace's read counts (tiers/hot.ts): `<namespace>:hot`, in the first hash-tag group on a Cluster. */
const hotKey = (namespace: string) => (isClusterUrl(redisUrl()) ? `{${namespace}:0}:hot` : `${namespace}:hot`);

/** An ioredis connection of the test's own, for looking at the hot set. */
function inspect() {
  return t.admin();
}

type Client = ReturnType<typeof cached>["prisma"];

/**
 * A few reads of different operations: one with a Date argument (its type
 * must survive the hot set), one by a unique key other than the primary key
 * (an entry that records the row it found).
 */
const reads = (p: Client) => [
  () => p.post.findMany({ where: { published: true }, orderBy: { id: "asc" } }),
  () => p.user.findUnique({ where: { id: t.ids.users.alice } }),
  () => p.user.findUnique({ where: { email: "bob@example.com" } }),
  () => p.post.count({ where: { createdAt: { lte: new Date("2999-01-01T00:00:00Z") } } }),
  () => p.user.findMany({ where: { role: "EDITOR" }, include: { posts: true }, orderBy: { id: "asc" } }),
];

describe("$cache.warm(reads)", () => {
  it("fills both tiers: the next reads are L1 hits with no database query, and another process's are L2 hits", async () => {
    const c = cached({ redis: redis() });
    await c.prisma.$cache.ready();
    c.counter.reset();
    const summary = await c.prisma.$cache.warm(reads(c.prisma));
    expect(summary).toEqual({ total: 5, warmed: 5, fresh: 0, bypassed: 0, failed: 0, errors: [] });
    const queried = selects(c.counter);
    expect(queried).toBeGreaterThanOrEqual(5); // the include adds its own SELECT
    for (const read of reads(c.prisma)) expect((await read().withCacheInfo()).info.status).toBe("l1");
    expect(selects(c.counter)).toBe(queried);

    const other = cached({ redis: redis() }, c.namespace);
    await other.prisma.$cache.ready();
    other.counter.reset();
    for (const read of reads(other.prisma)) expect((await read().withCacheInfo()).info.status).toBe("l2");
    expect(selects(other.counter)).toBe(0);
  });

  it("does not recompute an entry already fresh in L1 or in Redis", async () => {
    const c = cached({ redis: redis() });
    await c.prisma.$cache.warm(reads(c.prisma));
    c.counter.reset();
    expect(await c.prisma.$cache.warm(reads(c.prisma))).toMatchObject({ total: 5, warmed: 0, fresh: 5, failed: 0 });
    expect(selects(c.counter)).toBe(0);
    expect(c.prisma.$cache.stats().fills).toBe(5);

    // Another process: its L1 is empty, Redis holds every entry.
    const other = cached({ redis: redis() }, c.namespace);
    other.counter.reset();
    expect(await other.prisma.$cache.warm(reads(other.prisma))).toMatchObject({ total: 5, warmed: 0, fresh: 5, failed: 0 });
    expect(selects(other.counter)).toBe(0);
    expect(other.prisma.$cache.stats()).toMatchObject({ hits: { l1: 0, l2: 5 }, misses: 0, fills: 0 });
  });

  it("makes one database query when two processes warm the same cold key at once (the lease)", async () => {
    const ns = uniqueNamespace();
    const a = cached({ redis: redis() }, ns);
    const b = cached({ redis: redis() }, ns);
    await Promise.all([a.prisma.$cache.ready(), b.prisma.$cache.ready()]);
    a.counter.reset();
    b.counter.reset();
    const read = (p: Client) => [() => p.post.findMany({ where: { published: false }, orderBy: { id: "asc" } })];
    const gate = a.counter.gate(isPostSelect);
    const warmA = a.prisma.$cache.warm(read(a.prisma));
    await gate.opened; // a holds the lease; its query is held
    const warmB = b.prisma.$cache.warm(read(b.prisma));
    await until("b to wait for a's lease", () => b.prisma.$cache.stats().leaseWaits === 1);
    gate.release();
    const [sa, sb] = await Promise.all([warmA, warmB]);
    expect(sa).toMatchObject({ warmed: 1, failed: 0 });
    // b recomputed nothing: it read what a stored.
    expect(sb).toMatchObject({ fresh: 1, warmed: 0, failed: 0 });
    expect(selects(a.counter) + selects(b.counter)).toBe(1);
    expect(b.prisma.$cache.stats().misses).toBe(0);
  });

  it("runs at most `concurrency` reads at once, and reports progress after each", async () => {
    const c = cached(); // L1 only: nothing but the reads themselves reaches the database
    c.counter.reset();
    const gate = c.counter.gate(isPostSelect);
    const progress: WarmProgress[] = [];
    const fns = [1, 2, 3, 4, 5].map((take) => () => c.prisma.post.findMany({ take, orderBy: { id: "asc" } }));
    const warming = c.prisma.$cache.warm(fns, { concurrency: 2, onProgress: (p) => progress.push(p) });
    await gate.opened;
    await turns();
    expect(gate.held).toBe(2);
    expect(progress).toHaveLength(0);
    gate.release();
    const summary = await warming;
    expect(summary).toEqual({ total: 5, warmed: 5, fresh: 0, bypassed: 0, failed: 0, errors: [] });
    expect(progress.map((p) => p.done)).toEqual([1, 2, 3, 4, 5]);
    expect(progress.every((p) => p.total === 5 && p.warmed === p.done && p.fresh === 0 && p.failed === 0)).toBe(true);
    expect(selects(c.counter)).toBe(5);
  });

  it("counts a read that throws, rejects or fails in the database, and never rejects itself", async () => {
    const c = cached();
    c.counter.reset();
    const boom = new Error("boom");
    c.counter.failNext(new Error("database down"), isPostSelect);
    const summary = await c.prisma.$cache.warm(
      [
        () => {
          throw boom;
        },
        () => c.prisma.post.findMany({ where: { title: "Hello" } }), // fails in the database
        () => Promise.reject(new Error("rejected")),
        () => c.prisma.user.findMany({ orderBy: { id: "asc" } }),
        () => c.prisma.user.findMany({ cache: false }),
        async () => c.prisma.tag.findMany(), // an async function's promise: no cache info
      ],
      { concurrency: 1 },
    );
    expect(summary).toMatchObject({ total: 6, warmed: 1, fresh: 0, bypassed: 1, failed: 4 });
    expect(summary.errors.map((e) => e.index)).toEqual([0, 1, 2, 5]);
    expect(summary.errors[0]!.error).toBe(boom);
    expect((summary.errors[1]!.error as Error).message).toMatch(/database down/);
    expect((summary.errors[2]!.error as Error).message).toBe("rejected");
    expect(summary.errors[3]!.error).toBeInstanceOf(CacheUsageError);
    expect((summary.errors[3]!.error as Error).message).toMatch(/not an async function/);
  });

  it("refuses bad input with a CacheUsageError naming it", async () => {
    const { prisma } = cached();
    const warm = prisma.$cache.warm as (reads: unknown, options?: unknown) => Promise<unknown>;
    const read = () => prisma.user.findMany();
    await expect(warm("reads")).rejects.toThrow(/reads must be an array of functions.*got string/);
    await expect(warm([read, 42])).rejects.toThrow(/reads\[1\] must be a function.*got number/);
    await expect(warm([read], { concurrency: 0 })).rejects.toThrow(/concurrency must be a positive integer, got 0/);
    await expect(warm([read], { concurrency: 1.5 })).rejects.toThrow(/concurrency must be a positive integer, got 1.5/);
    await expect(warm([read], { concurrency: "4" })).rejects.toThrow(/concurrency must be a positive integer, got string/);
    await expect(warm([read], { onProgress: true })).rejects.toThrow(/onProgress must be a function/);
    await expect(warm([read], { concurency: 2 })).rejects.toThrow(/unknown option "concurency"/);
    await expect(warm([read], null)).rejects.toBeInstanceOf(CacheUsageError);
    expect(await warm([])).toEqual({ total: 0, warmed: 0, fresh: 0, bypassed: 0, failed: 0, errors: [] });
  });
});

describe("warm: { top } at start", () => {
  it("loads the namespace's most read entries into a new process's L1 from Redis, before ready() resolves", async () => {
    const ns = uniqueNamespace();
    const r = inspect();
    const first = cached({ redis: redis(), warm: { top: 10, sampleEvery: 1 } }, ns);
    await first.prisma.$cache.ready();
    const fns = reads(first.prisma);
    for (const read of fns) await read();
    await until("the reads to be counted in Redis", async () => (await r.zcard(hotKey(ns))) === fns.length);

    const counts = await r.zrange(hotKey(ns), 0, -1, "WITHSCORES");
    // Every read counted, every hit audited: the warm start's rehearsal reads (engine/hot.ts) must be neither.
    const second = cached({ redis: redis(), warm: { top: 10, sampleEvery: 1 }, audit: { sampleRate: 1 } }, ns);
    await second.prisma.$cache.ready();
    expect(second.prisma.$cache.stats().warmed).toBe(fns.length);
    // Loading read Redis only, and the rehearsal L1 only.
    expect(selects(second.counter)).toBe(0);
    await turns();
    expect(await r.zrange(hotKey(ns), 0, -1, "WITHSCORES")).toEqual(counts);
    expect(second.prisma.$cache.stats()).toMatchObject({ hits: { l1: 0, l2: 0 }, misses: 0, staleServed: 0, earlyRefreshes: 0 });
    expect(second.prisma.$cache.stats().byModel).toEqual({});
    const expected = await Promise.all(fns.map((f) => f()));
    const got = await Promise.all(reads(second.prisma).map((f) => f().withCacheInfo()));
    expect(got.map((g) => g.info.status)).toEqual(["l1", "l1", "l1", "l1", "l1"]);
    expect(got.map((g) => g.data)).toEqual(expected);
    // (The app's own hits are audited, sampleRate 1: those re-read the database.)
    expect(second.prisma.$cache.stats()).toMatchObject({ hits: { l1: 5, l2: 0 }, misses: 0 });
  });

  it("loads the highest counts first, and only `top` of them", async () => {
    const ns = uniqueNamespace();
    const r = inspect();
    const first = cached({ redis: redis(), warm: { top: 1, sampleEvery: 1 } }, ns);
    await first.prisma.$cache.ready();
    const hot = (p: Client) => p.user.findUnique({ where: { id: t.ids.users.carol } });
    const cold = (p: Client) => p.tag.findMany({ orderBy: { name: "asc" } });
    for (let i = 0; i < 5; i++) await hot(first.prisma);
    await cold(first.prisma);
    await until(
      "all six reads to be counted",
      async () => (await r.zrange(hotKey(ns), 0, -1, "WITHSCORES")).reduce((sum, v, i) => sum + (i % 2 ? Number(v) : 0), 0) === 6,
    );

    const second = cached({ redis: redis(), warm: { top: 1 } }, ns);
    await second.prisma.$cache.ready();
    expect(second.prisma.$cache.stats().warmed).toBe(1);
    expect((await hot(second.prisma).withCacheInfo()).info.status).toBe("l1");
    expect((await cold(second.prisma).withCacheInfo()).info.status).toBe("l2");
  });

  it("does not load an entry a write made stale before the new process started", async () => {
    const ns = uniqueNamespace();
    const r = inspect();
    const first = cached({ redis: redis(), warm: { top: 10, sampleEvery: 1 } }, ns);
    await first.prisma.$cache.ready();
    const user = await first.prisma.user.create({ data: { email: `warm-${ns}@example.com`, name: "Before" } });
    const byId = (p: Client) => p.user.findUnique({ where: { id: user.id } });
    const published = (p: Client) => p.post.findMany({ where: { published: true }, orderBy: { id: "asc" } });
    expect((await byId(first.prisma))?.name).toBe("Before");
    await published(first.prisma);
    await until("the reads to be counted", async () => (await r.zcard(hotKey(ns))) === 2);
    await first.prisma.user.update({ where: { id: user.id }, data: { name: "After" } });

    const second = cached({ redis: redis(), warm: { top: 10 } }, ns);
    await second.prisma.$cache.ready();
    expect(second.prisma.$cache.stats().warmed).toBe(1); // the list of posts, not the user
    second.counter.reset();
    const read = await byId(second.prisma).withCacheInfo();
    expect(read.info.status).toBe("miss");
    expect(read.data?.name).toBe("After");
    expect((await published(second.prisma).withCacheInfo()).info.status).toBe("l1");
  });

  it("keeps Date and Decimal arguments through the hot set", async () => {
    const ns = uniqueNamespace();
    const r = inspect();
    const first = cached({ redis: redis(), warm: { top: 10, sampleEvery: 1 } }, ns);
    await first.prisma.$cache.ready();
    const read = (p: Client) =>
      p.sample.findMany({ where: { decimal: { gte: new Prisma.Decimal("0.5") }, at: { lte: new Date("2999-01-01T00:00:00Z") } }, orderBy: { id: "asc" } });
    await read(first.prisma);
    await until("the read to be counted", async () => (await r.zcard(hotKey(ns))) === 1);
    const second = cached({ redis: redis(), warm: { top: 10 } }, ns);
    await second.prisma.$cache.ready();
    expect(second.prisma.$cache.stats().warmed).toBe(1);
    expect((await read(second.prisma).withCacheInfo()).info.status).toBe("l1");
  });

  it("does not count reads whose encoded form is over the size bound", async () => {
    const ns = uniqueNamespace();
    const r = inspect();
    const first = cached({ redis: redis(), warm: { top: 10, sampleEvery: 1 } }, ns);
    await first.prisma.$cache.ready();
    const titles = Array.from({ length: 100 }, (_, i) => `a title long enough to take some room, number ${i}`);
    await first.prisma.post.findMany({ where: { title: { in: titles } } });
    await first.prisma.post.findMany({ where: { title: "Hello" } });
    await until("the small read to be counted", async () => (await r.zcard(hotKey(ns))) >= 1);
    const members = await r.zrange(hotKey(ns), 0, -1);
    expect(members).toHaveLength(1);
    expect(members[0]).toContain("Hello");
  });

  it("does nothing without Redis", async () => {
    const c = cached({ warm: { top: 10, sampleEvery: 1 } });
    await c.prisma.$cache.ready();
    for (const read of reads(c.prisma)) await read();
    expect(c.prisma.$cache.stats().warmed).toBe(0);
    const other = cached({ warm: { top: 10 } });
    await other.prisma.$cache.ready();
    expect(other.prisma.$cache.stats().warmed).toBe(0);
    other.counter.reset();
    expect((await reads(other.prisma)[0]!().withCacheInfo()).info.status).toBe("miss");
  });

  it("refuses a malformed warm option", () => {
    expect(() => cached({ redis: redis(), warm: { top: -1 } })).toThrow(/warm.top must be an integer from 0 to 10000/);
    expect(() => cached({ warm: { top: 5, sampleEvery: 0 } })).toThrow(/warm.sampleEvery must be an integer >= 1/);
    expect(() => cached({ warm: { top: 5, every: 2 } as never })).toThrow(/unknown option "every"/);
  });
});
