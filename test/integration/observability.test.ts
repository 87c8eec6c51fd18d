/**
 * The staleness audit and the logger, on real Postgres and Redis.
 */
import { describe, expect, it, vi } from "vitest";
import { CacheConfigError, type CacheEvent, prismaCache } from "../../src/index";
import { Redis } from "ioredis";
import { redisUrl, sqlIdent, uniqueNamespace } from "../support/db";
import { startTcpProxy } from "../support/proxy";
import { useSeededDatabase } from "../support/harness";

const t = useSeededDatabase();

/** Resolves with the first event of `type` a cache reports. */
function nextEvent<T extends CacheEvent["type"]>(on: (l: (e: CacheEvent) => void) => () => void, type: T): Promise<Extract<CacheEvent, { type: T }>> {
  return new Promise((resolve) => {
    const off = on((e) => {
      if (e.type === type) {
        off();
        resolve(e as Extract<CacheEvent, { type: T }>);
      }
    });
  });
}

/** A logger that keeps every line it is given. */
function memoryLogger() {
  const lines: { level: string; message: string }[] = [];
  const at = (level: string) => (message: string) => void lines.push({ level, message });
  return { lines, logger: { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") } };
}

describe("staleness audit", () => {
  it("detects a row changed behind the cache's back, and reports it to the event and the logger", async () => {
    const { lines, logger } = memoryLogger();
    const c = t.cached({ redis: t.redis(), heartbeat: 100, audit: { sampleRate: 1 }, logger });
    await c.prisma.$cache.ready();
    const where = { where: { id: t.ids.users.carol } };
    await c.prisma.user.findUnique(where);
    await t.plain().prisma
      .$executeRaw`UPDATE ${sqlIdent("User")} SET ${sqlIdent("name")} = 'changed behind the cache' WHERE ${sqlIdent("id")} = ${t.ids.users.carol}`;
    const detected = nextEvent((l) => c.prisma.$cache.on(l), "stale-detected");
    const served = await c.prisma.user.findUnique(where);
    expect(served?.name).not.toBe("changed behind the cache");
    const event = await detected;
    expect(event.key).toMatch(/^User\|findUnique\|/);
    expect(event.deps.some((d) => d.startsWith("r:User:"))).toBe(true);
    expect(event.cachedAge).toBeGreaterThanOrEqual(0);
    expect(event.databaseAge).toBeGreaterThanOrEqual(100);
    const stats = c.prisma.$cache.stats();
    expect(stats.audits).toBe(1);
    expect(stats.staleDetected).toBe(1);
    expect(lines.filter((l) => l.level === "error" && l.message.includes("audit: a cached value differs from the database"))).toHaveLength(1);
  });

  it("finds nothing after normal writes, through this process or another", async () => {
    const namespace = uniqueNamespace();
    const a = t.cached({ redis: t.redis(), heartbeat: 100, audit: { sampleRate: 1 } }, namespace);
    const b = t.cached({ redis: t.redis(), heartbeat: 100 }, namespace);
    await Promise.all([a.prisma.$cache.ready(), b.prisma.$cache.ready()]);
    const where = { where: { id: t.ids.posts.hello } };
    for (let i = 0; i < 3; i++) {
      await a.prisma.post.findUnique(where); // a miss: credit for one audit
      await a.prisma.post.findUnique(where); // a hit: audited
      const writer = i % 2 === 0 ? a : b;
      await writer.prisma.post.update({ where: { id: t.ids.posts.hello }, data: { views: { increment: 1 } } });
      if (writer === b) await a.prisma.$cache.delivered(b.prisma.$cache.lastPublished()!);
    }
    await vi.waitFor(() => expect(a.prisma.$cache.stats().audits).toBe(3));
    // A difference would be reported one heartbeat after its audit read: wait past it.
    await new Promise((r) => setTimeout(r, 300));
    expect(a.prisma.$cache.stats().staleDetected).toBe(0);
  });

  it("re-reads sampleRate of the hits", async () => {
    const c = t.cached({ audit: { sampleRate: 0.25, maxPerSecond: 1_000 } });
    const read = () => c.prisma.post.findMany({ take: 2, orderBy: { id: "asc" } });
    await read(); // a miss
    // Paced (an L1 hit never yields to I/O): the audits' database reads get in, and every due audit finds room
    // (at most 4 run at once; one that finds none stays due for the next hit).
    for (let i = 0; i < 40; i++) {
      await read();
      await new Promise((r) => setTimeout(r, 5));
    }
    await vi.waitFor(() => expect(c.prisma.$cache.stats().audits).toBe(10));
    const stats = c.prisma.$cache.stats();
    expect(stats.hits.l1).toBe(40);
    expect(stats.staleDetected).toBe(0);
  });

  it("adds at most maxPerSecond audit reads", async () => {
    const c = t.cached({ audit: { sampleRate: 1, maxPerSecond: 3 } });
    const where = { where: { id: t.ids.posts.draft } };
    await c.prisma.post.findUnique(where);
    const started = Date.now();
    for (let i = 0; i < 30; i++) await c.prisma.post.findUnique(where);
    const seconds = (Date.now() - started) / 1000;
    await vi.waitFor(() => expect(c.prisma.$cache.stats().audits).toBeGreaterThanOrEqual(3));
    // At most 3 start in any second (a sliding window, src/audit.ts): in the seconds the reads took, at most 3 each.
    expect(c.prisma.$cache.stats().audits).toBeLessThanOrEqual(3 * Math.max(1, Math.ceil(seconds)));
  });

  it("a hot key served from the cache: a change made behind its back is detected within 1 s, with the defaults", async () => {
    const c = t.cached({ redis: t.redis(), audit: { sampleRate: 1 } });
    await c.prisma.$cache.ready();
    const where = { where: { id: t.ids.users.bob } };
    await c.prisma.user.findUnique(where);
    await c.prisma.user.findUnique(where);
    await t.plain().prisma
      .$executeRaw`UPDATE ${sqlIdent("User")} SET ${sqlIdent("name")} = 'bob, changed behind the cache' WHERE ${sqlIdent("id")} = ${t.ids.users.bob}`;
    const changed = Date.now();
    while (c.prisma.$cache.stats().staleDetected === 0 && Date.now() - changed < 3_000) {
      await c.prisma.user.findUnique(where);
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(c.prisma.$cache.stats().staleDetected).toBeGreaterThanOrEqual(1);
    expect(Date.now() - changed).toBeLessThan(1_000);
  });

  it("refuses a sampleRate outside [0, 1], naming the field", () => {
    for (const sampleRate of [-0.1, 1.5, Number.NaN]) {
      expect(() => prismaCache({ audit: { sampleRate } })).toThrow(CacheConfigError);
      expect(() => prismaCache({ audit: { sampleRate } })).toThrow(/audit\.sampleRate/);
    }
  });
});

describe("logger", () => {
  it("is told of the circuit opening and closing, L1 flushes and undelivered bumps", async () => {
    const { lines, logger } = memoryLogger();
    const proxy = await startTcpProxy(Number(new URL(redisUrl()).port));
    const redis = new Redis({ host: "127.0.0.1", port: proxy.port, maxRetriesPerRequest: 1 });
    redis.on("error", () => undefined);
    try {
      const c = t.cached({ redis, logger, redisTimeout: 200, breaker: { failures: 2, cooldown: 0 } });
      await c.prisma.$cache.ready();
      expect(lines.some((l) => l.level === "info" && /L1 flushed \(reason: connect\)/.test(l.message))).toBe(true);
      // A silent network: commands reach nothing and time out.
      proxy.silence();
      await c.prisma.user.update({ where: { id: t.ids.users.alice }, data: { name: "Alice" } });
      expect(lines.filter((l) => l.level === "error" && l.message.includes("Redis did not take a write's bump"))).toHaveLength(1);
      await c.prisma.post.findMany({ cache: { ttl: 5 }, take: 1 });
      expect(lines.filter((l) => l.level === "warn" && l.message.includes("Redis circuit opened after 2 failed commands"))).toHaveLength(1);
      proxy.speak();
      await vi.waitFor(async () => {
        await c.prisma.post.findMany({ cache: { ttl: 5 }, take: 2 });
        expect(lines.some((l) => l.level === "info" && l.message.includes("Redis circuit closed"))).toBe(true);
      });
      for (const l of lines) expect(l.message.startsWith("prisma-tiered-cache: ")).toBe(true);
    } finally {
      redis.disconnect();
      await proxy.close();
    }
  });

  it("refuses a logger without the four methods, naming each missing one", () => {
    expect(() => prismaCache({ logger: { info: () => undefined } as never })).toThrow(/logger\.debug must be a function/);
    expect(() => prismaCache({ logger: { debug() {}, info() {}, warn() {} } as never })).toThrow(/logger\.error must be a function/);
    expect(() => prismaCache({ logger: "console" as never })).toThrow(/logger must be an object/);
    expect(() => prismaCache({ logger: console })).not.toThrow();
  });

  it("prints nothing without a logger", async () => {
    const spies = (["log", "debug", "info", "warn", "error"] as const).map((m) => vi.spyOn(console, m));
    try {
      const c = t.cached({ redis: t.redis() });
      await c.prisma.$cache.ready();
      await c.prisma.user.findMany();
      for (const s of spies) expect(s).not.toHaveBeenCalled();
    } finally {
      for (const s of spies) s.mockRestore();
    }
  });
});
