/**
 * Validation of `prismaCache(options)`, of model names when the extension is
 * applied to a client, and of the per-query `cache` option at call time.
 * No servers: ioredis clients use `lazyConnect`, node-redis clients are not
 * connected, and the Prisma client's
 * adapter refuses (and counts) every connection attempt.
 */
import { PrismaPg } from "@prisma/adapter-pg";
import type { SqlDriverAdapterFactory } from "@prisma/driver-adapter-utils";
import { Cluster, Redis } from "ioredis";
import { Cluster as Cluster6, Redis as Redis6 } from "ioredis-6";
import { Cluster as ValkeyCluster, Redis as Valkey } from "iovalkey";
import { createClient, createCluster } from "redis";
import { createClient as createClient6, createCluster as createCluster6 } from "redis-6";
import { afterAll, describe, expect, it } from "vitest";
import { PrismaClient } from "../../generated/prisma/client";
import { CacheConfigError, CacheError, CacheUsageError, prismaCache, type CacheOptions, type RedisClient } from "../../src/index";
import { connectionOf } from "../../src/redis/detect";

const MODELS = ["User", "Profile", "Post", "Comment", "Tag", "Group", "Membership", "Sample"];

/** Calls `fn`, expects a CacheConfigError, and returns it. */
function configError(fn: () => unknown): CacheConfigError {
  let thrown: unknown;
  try {
    fn();
  } catch (err) {
    thrown = err;
  }
  expect(thrown).toBeInstanceOf(CacheConfigError);
  const err = thrown as CacheConfigError;
  expect(err).toBeInstanceOf(CacheError);
  expect(err).toBeInstanceOf(Error);
  expect(err.name).toBe("CacheConfigError");
  expect(err.code).toBe("PTC_CONFIG");
  expect(Array.isArray(err.issues)).toBe(true);
  expect(err.issues.length).toBeGreaterThan(0);
  // Every issue appears in the message.
  for (const issue of err.issues) expect(err.message).toContain(issue.message);
  return err;
}

const paths = (err: CacheConfigError): string[] => err.issues.map((i) => i.path);

/** Awaits `query` and returns what it rejected with (fails if it resolves). */
async function rejectionOf(query: PromiseLike<unknown>): Promise<unknown> {
  try {
    await query;
  } catch (err) {
    return err;
  }
  throw new Error("expected the query to reject");
}
/** Loosely typed call, for options that must not compile. */
const untyped = (options: unknown) => prismaCache(options as CacheOptions);

const redisClients: Array<Redis | Cluster> = [];
function lazyRedis(): Redis {
  const r = new Redis({ lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0 });
  redisClients.push(r);
  return r;
}

/** A PrismaPg factory on a closed port that counts, and refuses, every connection. */
function refusingAdapter() {
  const pg = new PrismaPg({ connectionString: "postgresql://127.0.0.1:1/x" });
  const state = { connects: 0 };
  const factory: SqlDriverAdapterFactory = {
    provider: pg.provider,
    adapterName: pg.adapterName,
    connect: async () => {
      state.connects++;
      throw new Error("test adapter: this test must not reach the database");
    },
  };
  return { factory, state };
}

const adapter = refusingAdapter();
const base = new PrismaClient({ adapter: adapter.factory });

afterAll(async () => {
  for (const r of redisClients) r.disconnect();
  await base.$disconnect().catch(() => undefined);
  expect(adapter.state.connects).toBe(0);
});

describe("prismaCache(options): valid options", () => {
  it("accepts no options and an empty object", () => {
    expect(() => prismaCache()).not.toThrow();
    expect(() => prismaCache({})).not.toThrow();
  });

  it("accepts a typical configuration (with a real, unconnected ioredis client)", () => {
    const redis = lazyRedis();
    expect(() =>
      prismaCache({
        redis,
        ttl: 60,
        l1: { max: 10_000, maxBytes: 64 * 2 ** 20, ttl: 5 },
        models: {
          Post: { ttl: 30, tags: ["feed"] },
          User: { invalidation: "write-through" },
          AuditLog: { cache: false },
        },
      }),
    ).not.toThrow();
    expect(redis.status).toBe("wait");
  });

  it("accepts every documented option at its edge values", () => {
    expect(() =>
      prismaCache({
        namespace: "app:v1_test-2.x",
        ttl: 0,
        swr: 0,
        l1: { max: 1, maxBytes: 1, ttl: 0 },
        redisTimeout: 1,
        heartbeat: 20,
        models: { Post: { ttl: 0, swr: 1.5, tags: [], cache: true, invalidation: "invalidate", dependsOn: ["User"] } },
      }),
    ).not.toThrow();
    expect(() => prismaCache({ l1: false, redis: lazyRedis() })).not.toThrow();
    expect(() => prismaCache({ ttl: 0.25, l1: {} })).not.toThrow();
  });

  it("accepts an ioredis Cluster", () => {
    const cluster = new Cluster([{ host: "127.0.0.1", port: 1 }], { lazyConnect: true });
    redisClients.push(cluster);
    expect(() => prismaCache({ redis: cluster })).not.toThrow();
  });

  it("accepts ioredis 6, iovalkey, and node-redis 5 and 6 clients and Clusters (unconnected), each with its family's adapter", () => {
    const clients: Array<[RedisClient, string, boolean]> = [
      [new Redis6({ lazyConnect: true }), "ioredis", false],
      [new Cluster6([{ host: "127.0.0.1", port: 1 }], { lazyConnect: true }), "ioredis", true],
      [new Valkey({ lazyConnect: true }), "ioredis", false],
      [new ValkeyCluster([{ host: "127.0.0.1", port: 1 }], { lazyConnect: true }), "ioredis", true],
      [createClient({ url: "redis://127.0.0.1:1" }), "node-redis", false],
      [createCluster({ rootNodes: [{ url: "redis://127.0.0.1:1" }] }), "node-redis", true],
      [createClient6({ url: "redis://127.0.0.1:1" }), "node-redis", false],
      [createCluster6({ rootNodes: [{ url: "redis://127.0.0.1:1" }] }), "node-redis", true],
      [lazyRedis(), "ioredis", false],
    ];
    for (const [redis, family, cluster] of clients) {
      expect(() => prismaCache({ redis })).not.toThrow();
      const connection = connectionOf(redis);
      expect([connection.family, connection.cluster]).toEqual([family, cluster]);
      // Not connected, and not connected by the cache's adapter before a command needs it.
      expect(connection.state).toBe("wait");
    }
    for (const [redis, family] of clients) if (family === "ioredis") (redis as unknown as Redis).disconnect();
  });
});

describe("prismaCache(options): invalid options", () => {
  it("lists every bad field at once", () => {
    const err = configError(() => untyped({ ttl: -1, l1: { max: 0 }, models: { Post: { ttl: "x", tags: [1] } }, tll: 5, redis: {} }));
    expect(paths(err)).toEqual(expect.arrayContaining(["ttl", "l1.max", "models.Post.ttl", "models.Post.tags.0", "redis"]));
    expect(err.issues).toHaveLength(6);
    for (const p of ["ttl", "l1.max", "models.Post.ttl", "models.Post.tags.0", "redis"]) expect(err.message).toContain(`${p}:`);
    expect(err.message).toContain('"tll"');
    expect(err.message).toMatch(/unknown option "tll"/);
    expect(err.message).toMatch(/^Invalid prisma-tiered-cache options \(6 problems\)/);
  });

  it.each<[string, unknown, string]>([
    ["ttl as a string", { ttl: "60" }, "ttl"],
    ["negative ttl", { ttl: -1 }, "ttl"],
    ["NaN ttl", { ttl: Number.NaN }, "ttl"],
    ["infinite ttl", { ttl: Number.POSITIVE_INFINITY }, "ttl"],
    ["negative swr", { swr: -5 }, "swr"],
    ["l1: true", { l1: true }, "l1"],
    ["l1.max = 0", { l1: { max: 0 } }, "l1.max"],
    ["negative l1.maxBytes", { l1: { maxBytes: -1 } }, "l1.maxBytes"],
    ["negative l1.ttl", { l1: { ttl: -1 } }, "l1.ttl"],
    ["empty namespace", { namespace: "" }, "namespace"],
    ["namespace with a space", { namespace: "a b" }, "namespace"],
    ["redisTimeout = 0", { redisTimeout: 0 }, "redisTimeout"],
    ["heartbeat = 5 (below 20 ms)", { heartbeat: 5 }, "heartbeat"],
    ["heartbeat as a string", { heartbeat: "1s" }, "heartbeat"],
    ["replicas = -1", { replicas: -1 }, "replicas"],
    ["replicas = 1.5", { replicas: 1.5 }, "replicas"],
    ["redis: {}", { redis: {} }, "redis"],
    ["redis as a URL", { redis: "redis://127.0.0.1:6379" }, "redis"],
    ["models as an array", { models: [] }, "models"],
    ["invalidation: sometimes", { models: { Post: { invalidation: "sometimes" } } }, "models.Post.invalidation"],
    ["model cache: 'no'", { models: { Post: { cache: "no" } } }, "models.Post.cache"],
    ["tags as a string", { models: { Post: { tags: "feed" } } }, "models.Post.tags"],
    ["empty tag", { models: { Post: { tags: ["ok", ""] } } }, "models.Post.tags.1"],
    ["dependsOn as a string", { models: { Post: { dependsOn: "User" } } }, "models.Post.dependsOn"],
  ])("rejects %s", (_name, options, path) => {
    const err = configError(() => untyped(options));
    expect(paths(err)).toContain(path);
    expect(err.message).toContain(`${path}:`);
  });

  it("reports unknown options with their names, at every level", () => {
    const err = configError(() => untyped({ tll: 5, l1: { mx: 1 }, models: { Post: { tll: 1 } } }));
    expect(err.message).toMatch(/unknown option "tll"/);
    expect(err.message).toMatch(/l1: unknown option "mx"/);
    expect(err.message).toMatch(/models\.Post: unknown option "tll"/);
    expect(err.issues).toHaveLength(3);
  });

  it("names the bad field inside l1 when l1 is an object", () => {
    // l1 is `false | { max, maxBytes, ttl }`: an object with a bad field must name that field,
    // not only say "l1 must be false or an object".
    expect(paths(configError(() => untyped({ l1: { max: 1.5 } })))).toContain("l1.max");
    expect(paths(configError(() => untyped({ l1: { max: "x" } })))).toContain("l1.max");
    const both = configError(() => untyped({ l1: { max: "x", maxBytes: -1 } }));
    expect(paths(both)).toEqual(expect.arrayContaining(["l1.max", "l1.maxBytes"]));
  });

  it("rejects options that are not an object", () => {
    for (const options of ["x", 5, [], true]) configError(() => untyped(options));
  });

  it("validates when prismaCache is called, before any client exists", () => {
    const err = configError(() => untyped({ models: { Post: { ttl: -1 } } }));
    expect(paths(err)).toEqual(["models.Post.ttl"]);
  });
});

describe("applying the extension to a client", () => {
  it("rejects unknown model names, naming them and listing the known models", () => {
    const ext = prismaCache({ ttl: 10, models: { Nope: {}, Post: { ttl: 5 } } });
    const err = configError(() => base.$extends(ext));
    expect(paths(err)).toEqual(["models.Nope"]);
    expect(err.message).toContain('"Nope"');
    for (const m of MODELS) expect(err.message).toContain(m);
  });

  it("reports every unknown model and every unknown dependsOn at once", () => {
    const ext = prismaCache({ models: { Nope: {}, post: {}, Post: { dependsOn: ["User", "Ghost"] } } });
    const err = configError(() => base.$extends(ext));
    expect(paths(err)).toEqual(expect.arrayContaining(["models.Nope", "models.post", "models.Post.dependsOn.1"]));
    expect(err.issues).toHaveLength(3);
    expect(err.message).toContain('"Ghost"');
  });

  it("rejects that configuration's AuditLog on this schema, which has no such model", () => {
    const ext = prismaCache({ ttl: 60, models: { Post: { ttl: 30, tags: ["feed"] }, AuditLog: { cache: false } } });
    const err = configError(() => base.$extends(ext));
    expect(paths(err)).toEqual(["models.AuditLog"]);
  });

  it("accepts known model names", () => {
    const prisma = base.$extends(prismaCache({ ttl: 10, models: { Post: { tags: ["feed"] }, User: { dependsOn: ["Profile"] } } }));
    expect(typeof prisma.$cache.stats).toBe("function");
  });
});

describe("per-query cache option, at call time", () => {
  const prisma = base.$extends(prismaCache({ ttl: 60 }));
  const noTtl = base.$extends(prismaCache({}));

  it("rejects with CacheUsageError naming the model, operation and field, without reaching the database", async () => {
    const before = adapter.state.connects;
    const err = await rejectionOf(prisma.user.findMany({ cache: { ttl: -1 } } as never));
    expect(err).toBeInstanceOf(CacheUsageError);
    expect(err).toBeInstanceOf(CacheError);
    expect((err as CacheUsageError).code).toBe("PTC_USAGE");
    expect((err as CacheUsageError).name).toBe("CacheUsageError");
    expect((err as Error).message).toContain("User.findMany");
    expect((err as Error).message).toContain("ttl");
    expect(adapter.state.connects).toBe(before);
  });

  it("does not throw synchronously: the query is lazy like a PrismaPromise", async () => {
    let pending: PromiseLike<unknown> | undefined;
    expect(() => {
      pending = prisma.user.findMany({ cache: 5 } as never);
    }).not.toThrow();
    await expect(pending).rejects.toBeInstanceOf(CacheUsageError);
  });

  it("reports the error through then/catch/finally, never by throwing synchronously from them", async () => {
    // A PrismaPromise is a promise: `.then(ok, fail)` and `.catch(fail)` must hand the error to
    // the callback, as `prisma.user.findMany(...).catch(() => fallback)` relies on.
    const seen: unknown[] = [];
    let viaThen: PromiseLike<unknown> | undefined;
    expect(() => {
      viaThen = prisma.user.findMany({ cache: { ttl: -1 } } as never).then(undefined, (e: unknown) => seen.push(e));
    }).not.toThrow();
    await viaThen;
    let viaCatch: Promise<unknown> | undefined;
    expect(() => {
      viaCatch = prisma.post.count({ cache: true } as never).catch((e: unknown) => seen.push(e));
    }).not.toThrow();
    await viaCatch;
    let viaFinally: Promise<unknown> | undefined;
    expect(() => {
      viaFinally = prisma.user.findUnique({ where: { id: 1 }, cache: { key: "" } } as never).finally(() => undefined);
    }).not.toThrow();
    await expect(viaFinally).rejects.toBeInstanceOf(CacheUsageError);
    expect(seen).toHaveLength(2);
    for (const e of seen) expect(e).toBeInstanceOf(CacheUsageError);
  });

  it.each<[string, unknown, RegExp]>([
    ["cache: true", true, /cache must be false or an object/],
    ["cache: 5", 5, /cache must be false or an object/],
    ["cache: null", null, /cache must be false or an object/],
    ["cache: 'yes'", "yes", /cache must be false or an object/],
    ["unknown key", { unknown: 1 }, /unknown option "unknown"/],
    ["ttl as a string", { ttl: "10" }, /ttl/],
    ["NaN swr", { swr: Number.NaN }, /swr/],
    ["negative swr", { swr: -1 }, /swr/],
    ["tags as a string", { tags: "feed" }, /tags/],
    ["empty tag", { tags: [""] }, /tags/],
    ["empty key", { key: "" }, /key/],
    ["key as a number", { key: 1 }, /key/],
  ])("rejects %s", async (_name, cache, message) => {
    const err = await rejectionOf(prisma.post.findMany({ cache } as never));
    expect(err).toBeInstanceOf(CacheUsageError);
    expect((err as Error).message).toContain("Post.findMany");
    expect((err as Error).message).toMatch(message);
  });

  it.each([
    ["findUnique", (c: typeof prisma) => c.user.findUnique({ where: { id: 1 }, cache: { ttl: -1 } } as never)],
    ["findUniqueOrThrow", (c: typeof prisma) => c.user.findUniqueOrThrow({ where: { id: 1 }, cache: { ttl: -1 } } as never)],
    ["findFirst", (c: typeof prisma) => c.user.findFirst({ cache: { ttl: -1 } } as never)],
    ["findFirstOrThrow", (c: typeof prisma) => c.user.findFirstOrThrow({ cache: { ttl: -1 } } as never)],
    ["findMany", (c: typeof prisma) => c.user.findMany({ cache: { ttl: -1 } } as never)],
    ["count", (c: typeof prisma) => c.user.count({ cache: { ttl: -1 } } as never)],
    ["aggregate", (c: typeof prisma) => c.user.aggregate({ _count: true, cache: { ttl: -1 } } as never)],
    ["groupBy", (c: typeof prisma) => c.user.groupBy({ by: ["role"], cache: { ttl: -1 } } as never)],
  ] as const)("validates on %s", async (op, call) => {
    const before = adapter.state.connects;
    const err = await rejectionOf(call(prisma) as PromiseLike<unknown>);
    expect(err).toBeInstanceOf(CacheUsageError);
    expect((err as Error).message).toContain(`User.${op}`);
    expect((err as Error).message).toContain("ttl");
    expect(adapter.state.connects).toBe(before);
  });

  it("validates even when the read would not be cached (no ttl configured)", async () => {
    await expect(noTtl.user.findMany({ cache: { tags: "feed" } } as never)).rejects.toBeInstanceOf(CacheUsageError);
  });

  it("validates after a chained $extends", async () => {
    const chained = prisma.$extends({ result: { user: { shout: { needs: { email: true }, compute: (u) => u.email.toUpperCase() } } } });
    const err = await rejectionOf(chained.user.findMany({ cache: { ttl: -1 } } as never));
    expect(err).toBeInstanceOf(CacheUsageError);
    expect((err as Error).message).toContain("User.findMany");
  });

  it("never connected to the database", () => {
    expect(adapter.state.connects).toBe(0);
  });
});
