/**
 * Accelerate's per-query `cacheStrategy`, accepted as an alias of `cache`, on
 * real Postgres and Redis.
 */
import { describe, expect, it } from "vitest";
import { CacheUsageError } from "../../src/index";
import { selects, useSeededDatabase } from "../support/harness";

const t = useSeededDatabase();

describe("cacheStrategy (the Accelerate alias of cache)", () => {
  it("caches with its ttl and swr, and its tags invalidate in every process", async () => {
    const namespace = `alias-${Math.random().toString(36).slice(2)}`;
    const a = t.cached({ redis: t.redis(), ttl: 0 }, namespace);
    const b = t.cached({ redis: t.redis(), ttl: 0 }, namespace);
    // L1 serves only while the bus is known to deliver: both subscribed first.
    await Promise.all([a.prisma.$cache.ready(), b.prisma.$cache.ready()]);
    const args = { where: { published: true }, orderBy: { id: "asc" as const }, cacheStrategy: { ttl: 30, swr: 10, tags: ["feed"] } };
    const first = await a.prisma.post.findMany(args).withCacheInfo();
    expect(first.info.status).toBe("miss");
    expect(first.info.ttl).toBeGreaterThan(29_000);
    expect(first.info.deps).toContain("t:feed");
    expect((await a.prisma.post.findMany(args).withCacheInfo()).info.status).toBe("l1");
    expect((await b.prisma.post.findMany(args).withCacheInfo()).info.status).toBe("l2");
    expect(selects(a.counter) + selects(b.counter)).toBe(1);
    // Without it, the global ttl (0 here) applies: not cached.
    expect((await a.prisma.post.findMany({ where: { published: true } }).withCacheInfo()).info.status).toBe("bypass");

    await a.prisma.$cache.invalidate({ tags: ["feed"] });
    await b.prisma.$cache.delivered(a.prisma.$cache.lastPublished()!);
    expect((await b.prisma.post.findMany(args).withCacheInfo()).info.status).toBe("miss");
  });

  it("is the same entry as the cache option it maps to", async () => {
    const c = t.cached();
    const where = { id: t.ids.users.carol };
    await c.prisma.user.findUnique({ where, cacheStrategy: { ttl: 60, tags: ["u"] } });
    expect((await c.prisma.user.findUnique({ where, cache: { ttl: 60, tags: ["u"] } }).withCacheInfo()).info.status).toBe("l1");
    expect((await c.prisma.user.findUnique({ where, cacheStrategy: { ttl: 0 } }).withCacheInfo()).info.status).toBe("bypass");
  });

  it("refuses both options at once, and options Accelerate does not have, naming them", async () => {
    const c = t.cached();
    const both = c.prisma.user.findMany({ cache: { ttl: 5 }, cacheStrategy: { ttl: 5 } } as never);
    await expect(both).rejects.toThrow(CacheUsageError);
    await expect(c.prisma.user.findMany({ cache: false, cacheStrategy: {} } as never)).rejects.toThrow(/either cache or cacheStrategy/);
    await expect(c.prisma.user.findMany({ cacheStrategy: { ttl: 5, key: "k" } } as never)).rejects.toThrow(/unknown cacheStrategy option "key"/);
    await expect(c.prisma.user.findMany({ cacheStrategy: 5 } as never)).rejects.toThrow(
      /User\.findMany\(\{ cacheStrategy \}\): cacheStrategy must be an object/,
    );
    await expect(c.prisma.user.findMany({ cacheStrategy: { ttl: -1 } })).rejects.toThrow(/ttl must be a number of seconds/);
  });
});
