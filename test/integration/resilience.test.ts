import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { mentionsTable, redisUrl, uniqueNamespace } from "../support/db";
import { selects, useSeededDatabase } from "../support/harness";
import { startTcpProxy, type TcpProxy } from "../support/proxy";

const t = useSeededDatabase();
const proxies: TcpProxy[] = [];
afterAll(async () => {
  for (const p of proxies) await p.close();
});

/** Resolves once ioredis is (re)connected. */
const connected = (r: Redis) => (r.status === "ready" ? Promise.resolve() : new Promise<void>((res) => r.once("ready", () => res())));

/** A Redis connection through a proxy whose link the test can cut. */
async function cuttableRedis() {
  const proxy = await startTcpProxy(Number(new URL(redisUrl()).port));
  proxies.push(proxy);
  const redis = new Redis({ host: "127.0.0.1", port: proxy.port, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => 20 });
  redis.on("error", () => undefined); // outages are the point of these tests
  await connected(redis);
  return { proxy, redis };
}

describe("Redis outages", () => {
  it("keeps reads and writes working while Redis is unreachable, and replays the undelivered bumps", async () => {
    const ns = uniqueNamespace();
    const { proxy, redis } = await cuttableRedis();
    const c = t.cached({ redis, redisTimeout: 200, breaker: { failures: 2, cooldown: 0 } }, ns);
    const observer = t.cached({ redis: t.redis(), l1: false }, ns);
    const id = t.ids.posts.hello;

    const before = await observer.prisma.post.findUnique({ where: { id } });
    expect(observer.prisma.$cache.stats().misses).toBe(1);

    proxy.cut();
    c.counter.reset();
    // Reads fall back to the database.
    const during = await c.prisma.post.findUnique({ where: { id } });
    expect(during).toEqual(before);
    expect(selects(c.counter)).toBe(1);
    // A write succeeds; its bump cannot reach Redis, so the shared entry is still the old one.
    await c.prisma.post.update({ where: { id }, data: { title: "written during the outage" } });
    expect(c.prisma.$cache.stats().redisErrors).toBeGreaterThan(0);
    // The writing process itself never serves the old value.
    expect((await c.prisma.post.findUnique({ where: { id } }))?.title).toBe("written during the outage");

    proxy.restore();
    await connected(redis);
    // The next bump carries the undelivered ones with it.
    await c.prisma.$cache.invalidate({ tags: ["unrelated"] });
    const after = await observer.prisma.post.findUnique({ where: { id } });
    expect(after?.title).toBe("written during the outage");
  });

  it("skips Redis for reads while the circuit is open; a write still tries its bump, within redisTimeout", async () => {
    const { proxy, redis } = await cuttableRedis();
    const c = t.cached({ redis, redisTimeout: 200, breaker: { failures: 1, cooldown: 60_000 } });
    proxy.cut();
    await c.prisma.user.findMany({ where: { id: t.ids.users.alice } });
    const errorsAfterFirst = c.prisma.$cache.stats().redisErrors;
    expect(errorsAfterFirst).toBeGreaterThan(0);
    // With the circuit open, later reads do not touch Redis at all.
    for (let i = 0; i < 5; i++) await c.prisma.user.findMany({ where: { id: t.ids.users.bob }, take: i + 1 });
    expect(c.prisma.$cache.stats().redisErrors).toBe(errorsAfterFirst);
    // A write does: its bump is what keeps other processes from serving the old row once Redis is back.
    await c.prisma.tag.create({ data: { name: `circuit-${Math.random()}` } });
    expect(c.prisma.$cache.stats().redisErrors).toBeGreaterThan(errorsAfterFirst);
    // Back: the next write delivers its bump and the queued one; the circuit closes.
    proxy.restore();
    await new Promise<void>((resolve) => (redis.status === "ready" ? resolve() : redis.once("ready", () => resolve())));
    const observer = t.cached({ redis: t.redis(), l1: false }, c.namespace);
    const before = await observer.prisma.tag.count();
    await c.prisma.tag.create({ data: { name: `circuit-${Math.random()}` } });
    expect(await observer.prisma.tag.count()).toBe(before + 1);
  });
});

describe("a Redis that never connects", () => {
  it("holds one ready listener on the app's client however many reads wait for it (no MaxListeners warning)", async () => {
    const dead = new Redis({ host: "127.0.0.1", port: 1, retryStrategy: () => 50 });
    dead.on("error", () => undefined);
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on("warning", onWarning);
    try {
      const before = dead.listenerCount("ready");
      let most = before;
      dead.on("newListener", (event: string) => {
        if (event === "ready") most = Math.max(most, dead.listenerCount("ready") + 1);
      });
      const c = t.cached({ redis: dead, redisTimeout: 300 });
      // Fifty distinct reads (fifty flights), each waiting for the first connection within redisTimeout.
      const reads = Array.from({ length: 50 }, (_, i) => c.prisma.post.findMany({ orderBy: { id: "asc" }, take: i + 1 }).then((r) => r));
      const rows = await Promise.all(reads);
      expect(rows.map((r) => r.length)).toEqual(Array.from({ length: 50 }, (_, i) => Math.min(i + 1, rows[49]!.length)));
      expect(c.prisma.$cache.stats().misses).toBe(50);
      // The cache's connection watch, one listener for all the waits (one per read before: 52 here), and ioredis's
      // own while it connects (3 seen; 4 allowed). Not counted after the reads: the cache's own start-up checks
      // may still be waiting then.
      expect(most - before).toBeLessThanOrEqual(4);
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings.filter((w) => w.name === "MaxListenersExceededWarning")).toEqual([]);
    } finally {
      process.off("warning", onWarning);
      dead.disconnect();
    }
  });
});

describe("a write that bumps while it runs (write marks)", () => {
  const isPostUpdate = (q: { sql: string }) => /^\s*update/i.test(q.sql) && mentionsTable(q.sql, "Post");

  it("refuses the fill of a read made while the write is held in the database, and serves the write's row as soon as it resolves", async () => {
    const ns = uniqueNamespace();
    const writer = t.cached({ redis: t.redis() }, ns);
    const reader = t.cached({ redis: t.redis() }, ns);
    await Promise.all([writer.prisma.$cache.ready(), reader.prisma.$cache.ready()]);
    const id = t.ids.posts.hello;
    const old = await reader.prisma.post.findUnique({ where: { id } });
    const title = `marked ${ns}`;

    // The write's UPDATE waits at the gate; its marks are in Redis once the gate is reached.
    const gate = writer.counter.gate(isPostUpdate);
    const writing = writer.prisma.post.update({ where: { id }, data: { title } }).then((row) => row); // started now
    await gate.opened;
    await reader.prisma.$cache.delivered(writer.prisma.$cache.lastPublished()!);

    // Meanwhile: the reader's entry is outdated, it reads the old row from the database, and may not store it.
    reader.counter.reset();
    const refusedBefore = reader.prisma.$cache.stats().fillsRefused;
    expect(await reader.prisma.post.findUnique({ where: { id } })).toEqual(old);
    expect(selects(reader.counter)).toBe(1);
    expect(reader.prisma.$cache.stats().fillsRefused).toBe(refusedBefore + 1);

    gate.release();
    const written = await writing;

    // At once, before the release of the marks has left the writer's process: the new row, in both processes.
    expect((await reader.prisma.post.findUnique({ where: { id } }))?.title).toBe(title);
    expect((await writer.prisma.post.findUnique({ where: { id } }))?.title).toBe(title);

    // Once the release is in Redis, the row is cached again.
    await new Promise((resolve) => setImmediate(resolve));
    await reader.prisma.$cache.delivered(writer.prisma.$cache.lastPublished()!);
    await reader.prisma.post.findUnique({ where: { id } });
    reader.counter.reset();
    expect(await reader.prisma.post.findUnique({ where: { id } })).toEqual(written);
    expect(selects(reader.counter)).toBe(0);
  });

  it("a write that fails in the database releases its marks: the row is cached again", async () => {
    const ns = uniqueNamespace();
    const c = t.cached({ redis: t.redis(), l1: false }, ns);
    const id = t.ids.posts.hello;
    await c.prisma.post.findUnique({ where: { id } });
    // An update by primary key of a row whose foreign key it sets to a missing one: the database refuses it.
    await expect(c.prisma.post.update({ where: { id }, data: { authorId: 2_000_000_000 } })).rejects.toThrow();
    await new Promise((resolve) => setImmediate(resolve));
    await c.prisma.post.findUnique({ where: { id } });
    c.counter.reset();
    await c.prisma.post.findUnique({ where: { id } });
    expect(selects(c.counter)).toBe(0);
    expect(c.prisma.$cache.stats().hits.l2).toBeGreaterThanOrEqual(1);
  });
});

describe("compare-and-set fill", () => {
  it.each([
    ["with Redis", true],
    ["in-process only", false],
  ])("a read that began before a write never stores its older result as fresh (%s)", async (_name, withRedis) => {
    const ns = uniqueNamespace();
    const reader = t.cached(withRedis ? { redis: t.redis() } : {}, ns);
    const writer = withRedis ? t.cached({ redis: t.redis() }, ns) : reader;
    const id = t.ids.users.carol;
    const old = (await t.plain().prisma.user.findUniqueOrThrow({ where: { id } })).name;
    // A first fill gives the dependencies version counters, so the race below moves existing ones.
    await reader.prisma.user.count();
    // The reader's SELECT runs, then its result is held inside the driver adapter.
    const gate = reader.counter.gateResult((q) => q.kind === "query" && /select/i.test(q.sql) && mentionsTable(q.sql, "User") && !q.inTransaction);
    const slowRead = reader.prisma.user.findUnique({ where: { id } }).then((u) => u);
    await gate.opened;
    // Meanwhile a write commits and resolves.
    const name = `Carol ${Math.random()}`;
    await writer.prisma.user.update({ where: { id }, data: { name } });
    gate.release();
    // The slow read returns what it read (the old row)...
    expect((await slowRead)?.name).toBe(old);
    // ...but refuses to store it: the next read sees the write.
    expect(reader.prisma.$cache.stats().fillsRefused).toBe(1);
    expect((await reader.prisma.user.findUnique({ where: { id } }))?.name).toBe(name);
    if (withRedis) {
      const third = t.cached({ redis: t.redis(), l1: false }, ns);
      expect((await third.prisma.user.findUnique({ where: { id } }))?.name).toBe(name);
    }
  });
});

describe("version counters", () => {
  it("concurrent first reads of a fresh namespace all store their results", async () => {
    const c = t.cached({ redis: t.redis() });
    c.counter.reset();
    const ids = Object.values(t.ids.posts);
    await Promise.all([...ids.map((id) => c.prisma.post.findUnique({ where: { id } })), ...ids.map((id) => c.prisma.post.findMany({ where: { id } }))]);
    expect(c.prisma.$cache.stats()).toMatchObject({ fills: ids.length * 2, fillsRefused: 0, misses: ids.length * 2 });
    const queried = c.counter.queries;
    await Promise.all([...ids.map((id) => c.prisma.post.findUnique({ where: { id } })), ...ids.map((id) => c.prisma.post.findMany({ where: { id } }))]);
    expect(c.counter.queries).toBe(queried);
    expect(c.prisma.$cache.stats().hits.l1).toBe(ids.length * 2);
  });

  it("expire when unused (Redis keeps no counter per row forever), and an expired counter never makes an entry fresh", async () => {
    const ns = uniqueNamespace();
    const c = t.cached({ redis: t.redis(), l1: false }, ns);
    const r = t.admin();
    const id = t.ids.users.alice;
    await c.prisma.user.findUnique({ where: { id } });
    const keys = await r.keys(`${ns}:v:*`);
    expect(keys.length).toBeGreaterThan(0);
    for (const k of keys) expect(await r.pttl(k)).toBeGreaterThan(0);
    // The row's counter disappears (as if it expired); the entry must not be served.
    const row = keys.find((k) => k.includes(":v:r:User:"))!;
    await r.del(row);
    await t.plain().prisma.user.update({ where: { id }, data: { name: `expired ${Math.random()}` } });
    c.counter.reset();
    const fresh = await c.prisma.user.findUnique({ where: { id } });
    expect(selects(c.counter)).toBe(1);
    expect(fresh?.name).toMatch(/^expired /);
  });
});

describe("bus failures flush L1", () => {
  it("a killed subscriber connection flushes L1 once the bus is back", async () => {
    const name = `ptc-flush-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
    const redis = new Redis(redisUrl(), { connectionName: name });
    const c = t.cached({ redis });
    await c.prisma.$cache.ready();
    await c.prisma.user.findUnique({ where: { id: t.ids.users.alice } });
    await c.prisma.user.findUnique({ where: { id: t.ids.users.alice } });
    expect(c.prisma.$cache.stats().hits.l1).toBe(1);
    const flushed = new Promise<string>((resolve) => c.prisma.$cache.on((e) => e.type === "l1-flushed" && resolve(e.reason)));
    const admin = t.admin();
    const list = (await admin.call("CLIENT", "LIST", "TYPE", "pubsub")) as string;
    const id = list
      .split("\n")
      .find((line) => line.includes(` name=${name} `))
      ?.match(/^id=(\d+) /)?.[1];
    expect(id).toBeDefined();
    await admin.client("KILL", "ID", id!);
    expect(await flushed).toBe("reconnect");
    // Missed bumps cannot be ruled out: the entry is gone from L1 (served from L2 now).
    await c.prisma.user.findUnique({ where: { id: t.ids.users.alice } });
    expect(c.prisma.$cache.stats()).toMatchObject({ hits: { l1: 1, l2: 1 } });
    expect(c.prisma.$cache.stats().l1Flushes).toBeGreaterThanOrEqual(2);
    redis.disconnect();
  });
});
