/**
 * Type tests of the public surface: the per-query `cache` option on every
 * cached read, result types identical to the plain client's, the fluent API,
 * interactive transactions, chained `$extends`, `$cache`, and the options of
 * `prismaCache(...)`. Checked by `tsc` only (`npm run typecheck`); nothing runs.
 */
import { describe, expectTypeOf, test } from "vitest";
import type { Cluster, Redis } from "ioredis";
import type { Cluster as Cluster6, Redis as Redis6 } from "ioredis-6";
import type { Cluster as ValkeyCluster, Redis as Valkey } from "iovalkey";
import type { createClient, createCluster, RedisClientType, RedisClusterType, RedisDefaultModules } from "redis";
import type { createClient as createClient6, createCluster as createCluster6, RedisClientType as RedisClientType6 } from "redis-6";
import { Prisma, type PrismaClient } from "../../generated/prisma/client";
import type { Post, Profile, User } from "../../generated/prisma/client";
import {
  cacheNeutral,
  cacheScope,
  prismaCache,
  type BypassReason,
  type CacheScope,
  type ScopeSource,
  type BumpId,
  type CacheArgs,
  type CacheEvent,
  type CacheClientApi,
  type CacheOptions,
  type CacheStats,
  type CacheInfo,
  type CacheStatus,
  type CachedPromise,
  type L1Options,
  type ModelCacheOptions,
  type QueryCacheOption,
} from "../../src/index";

declare const base: PrismaClient;
const prisma = base.$extends(prismaCache({ ttl: 60 }));

describe("per-query `cache` option", () => {
  test("findUnique accepts false and { ttl, swr, tags, key }, and nothing else", () => {
    prisma.user.findUnique({ where: { id: 1 }, cache: false });
    prisma.user.findUnique({ where: { id: 1 }, cache: { ttl: 10 } });
    prisma.user.findUnique({ where: { id: 1 }, cache: { swr: 5, tags: ["a"], key: "k" } });
    prisma.user.findUnique({ where: { id: 1 }, cache: {} });
    prisma.user.findUnique({ where: { id: 1 } });
    // @ts-expect-error cache: true is not an option
    prisma.user.findUnique({ where: { id: 1 }, cache: true });
    // Accelerate's cacheStrategy is an alias.
    expectTypeOf(prisma.user.findMany({ cacheStrategy: { ttl: 60, swr: 10, tags: ["a"] } })).resolves.toEqualTypeOf<User[]>();
    // @ts-expect-error cacheStrategy has no key
    prisma.user.findMany({ cacheStrategy: { key: "k" } });
    // @ts-expect-error cacheStrategy is an object
    prisma.user.findMany({ cacheStrategy: false });
    // @ts-expect-error ttl is a number of seconds
    prisma.user.findUnique({ where: { id: 1 }, cache: { ttl: "10" } });
    // @ts-expect-error tags is an array
    prisma.user.findUnique({ where: { id: 1 }, cache: { tags: "feed" } });
    // @ts-expect-error unknown key
    prisma.user.findUnique({ where: { id: 1 }, cache: { unknown: 1 } });
    // @ts-expect-error a number is not an option
    prisma.user.findUnique({ where: { id: 1 }, cache: 5 });
  });

  test("findUniqueOrThrow", () => {
    prisma.user.findUniqueOrThrow({ where: { id: 1 }, cache: false });
    prisma.user.findUniqueOrThrow({ where: { id: 1 }, cache: { ttl: 10 } });
    prisma.user.findUniqueOrThrow({ where: { id: 1 }, cache: { swr: 5, tags: ["a"], key: "k" } });
    // @ts-expect-error cache: true
    prisma.user.findUniqueOrThrow({ where: { id: 1 }, cache: true });
    // @ts-expect-error ttl string
    prisma.user.findUniqueOrThrow({ where: { id: 1 }, cache: { ttl: "10" } });
    // @ts-expect-error tags string
    prisma.user.findUniqueOrThrow({ where: { id: 1 }, cache: { tags: "feed" } });
    // @ts-expect-error unknown key
    prisma.user.findUniqueOrThrow({ where: { id: 1 }, cache: { unknown: 1 } });
    // @ts-expect-error number
    prisma.user.findUniqueOrThrow({ where: { id: 1 }, cache: 5 });
  });

  test("findFirst", () => {
    prisma.user.findFirst({ where: { name: "a" }, cache: false });
    prisma.user.findFirst({ where: { name: "a" }, cache: { ttl: 10 } });
    prisma.user.findFirst({ where: { name: "a" }, cache: { swr: 5, tags: ["a"], key: "k" } });
    prisma.user.findFirst({ cache: { ttl: 10 } });
    prisma.user.findFirst();
    // @ts-expect-error cache: true
    prisma.user.findFirst({ where: { name: "a" }, cache: true });
    // @ts-expect-error ttl string
    prisma.user.findFirst({ where: { name: "a" }, cache: { ttl: "10" } });
    // @ts-expect-error tags string
    prisma.user.findFirst({ where: { name: "a" }, cache: { tags: "feed" } });
    // @ts-expect-error unknown key
    prisma.user.findFirst({ where: { name: "a" }, cache: { unknown: 1 } });
    // @ts-expect-error number
    prisma.user.findFirst({ where: { name: "a" }, cache: 5 });
  });

  test("findFirstOrThrow", () => {
    prisma.user.findFirstOrThrow({ where: { name: "a" }, cache: false });
    prisma.user.findFirstOrThrow({ where: { name: "a" }, cache: { ttl: 10 } });
    prisma.user.findFirstOrThrow({ where: { name: "a" }, cache: { swr: 5, tags: ["a"], key: "k" } });
    // @ts-expect-error cache: true
    prisma.user.findFirstOrThrow({ where: { name: "a" }, cache: true });
    // @ts-expect-error ttl string
    prisma.user.findFirstOrThrow({ where: { name: "a" }, cache: { ttl: "10" } });
    // @ts-expect-error tags string
    prisma.user.findFirstOrThrow({ where: { name: "a" }, cache: { tags: "feed" } });
    // @ts-expect-error unknown key
    prisma.user.findFirstOrThrow({ where: { name: "a" }, cache: { unknown: 1 } });
    // @ts-expect-error number
    prisma.user.findFirstOrThrow({ where: { name: "a" }, cache: 5 });
  });

  test("findMany", () => {
    prisma.post.findMany({ where: { published: true }, cache: false });
    prisma.post.findMany({ where: { published: true }, cache: { ttl: 10 } });
    prisma.post.findMany({ where: { published: true }, cache: { swr: 5, tags: ["a"], key: "k" } });
    prisma.post.findMany({ cache: { ttl: 10, swr: 30, tags: ["feed"] } });
    prisma.post.findMany();
    // @ts-expect-error cache: true
    prisma.post.findMany({ where: { published: true }, cache: true });
    // @ts-expect-error ttl string
    prisma.post.findMany({ where: { published: true }, cache: { ttl: "10" } });
    // @ts-expect-error tags string
    prisma.post.findMany({ where: { published: true }, cache: { tags: "feed" } });
    // @ts-expect-error unknown key
    prisma.post.findMany({ where: { published: true }, cache: { unknown: 1 } });
    // @ts-expect-error number
    prisma.post.findMany({ where: { published: true }, cache: 5 });
  });

  test("count", () => {
    prisma.post.count({ where: { published: true }, cache: false });
    prisma.post.count({ where: { published: true }, cache: { ttl: 10 } });
    prisma.post.count({ where: { published: true }, cache: { swr: 5, tags: ["a"], key: "k" } });
    prisma.post.count();
    // @ts-expect-error cache: true
    prisma.post.count({ where: { published: true }, cache: true });
    // @ts-expect-error ttl string
    prisma.post.count({ where: { published: true }, cache: { ttl: "10" } });
    // @ts-expect-error tags string
    prisma.post.count({ where: { published: true }, cache: { tags: "feed" } });
    // @ts-expect-error unknown key
    prisma.post.count({ where: { published: true }, cache: { unknown: 1 } });
    // @ts-expect-error number
    prisma.post.count({ where: { published: true }, cache: 5 });
  });

  test("aggregate", () => {
    prisma.post.aggregate({ _sum: { views: true }, cache: false });
    prisma.post.aggregate({ _sum: { views: true }, cache: { ttl: 10 } });
    prisma.post.aggregate({ _sum: { views: true }, cache: { swr: 5, tags: ["a"], key: "k" } });
    // @ts-expect-error cache: true
    prisma.post.aggregate({ _sum: { views: true }, cache: true });
    // @ts-expect-error ttl string
    prisma.post.aggregate({ _sum: { views: true }, cache: { ttl: "10" } });
    // @ts-expect-error tags string
    prisma.post.aggregate({ _sum: { views: true }, cache: { tags: "feed" } });
    // @ts-expect-error unknown key
    prisma.post.aggregate({ _sum: { views: true }, cache: { unknown: 1 } });
    // @ts-expect-error number
    prisma.post.aggregate({ _sum: { views: true }, cache: 5 });
  });

  test("groupBy", () => {
    prisma.post.groupBy({ by: ["published"], _count: { _all: true }, cache: false });
    prisma.post.groupBy({ by: ["published"], _count: { _all: true }, cache: { ttl: 10 } });
    prisma.post.groupBy({ by: ["published"], _count: { _all: true }, cache: { swr: 5, tags: ["a"], key: "k" } });
    // @ts-expect-error cache: true
    prisma.post.groupBy({ by: ["published"], _count: { _all: true }, cache: true });
    // @ts-expect-error ttl string
    prisma.post.groupBy({ by: ["published"], _count: { _all: true }, cache: { ttl: "10" } });
    // @ts-expect-error tags string
    prisma.post.groupBy({ by: ["published"], _count: { _all: true }, cache: { tags: "feed" } });
    // @ts-expect-error unknown key
    prisma.post.groupBy({ by: ["published"], _count: { _all: true }, cache: { unknown: 1 } });
    // @ts-expect-error number
    prisma.post.groupBy({ by: ["published"], _count: { _all: true }, cache: 5 });
  });

  test("the model's own arguments are still checked", () => {
    // @ts-expect-error id is a number
    prisma.user.findUnique({ where: { id: "1" }, cache: { ttl: 10 } });
    // @ts-expect-error not a field of User
    prisma.user.findMany({ where: { title: "x" }, cache: false });
    // @ts-expect-error findUnique needs a unique where
    prisma.user.findUnique({ where: { name: "a" }, cache: false });
  });

  test("writes do not take a `cache` option", () => {
    // @ts-expect-error cache is for reads only
    prisma.user.create({ data: { email: "a@b.c" }, cache: false });
    // @ts-expect-error cache is for reads only
    prisma.user.update({ where: { id: 1 }, data: { name: "x" }, cache: { ttl: 1 } });
  });
});

describe("result types are those of the plain client", () => {
  test("findUnique without and with select/include/omit", () => {
    const plain = base.user.findUnique({ where: { id: 1 } });
    expectTypeOf(prisma.user.findUnique({ where: { id: 1 }, cache: false })).resolves.toEqualTypeOf<Awaited<typeof plain>>();
    expectTypeOf(prisma.user.findUnique({ where: { id: 1 }, cache: { ttl: 10 } })).resolves.toEqualTypeOf<User | null>();

    const selected = prisma.user.findUnique({ where: { id: 1 }, select: { id: true, email: true }, cache: { ttl: 10 } });
    expectTypeOf(selected).resolves.toEqualTypeOf<{ id: number; email: string } | null>();
    expectTypeOf(selected).resolves.toEqualTypeOf<Awaited<ReturnType<typeof base.user.findUnique<{ where: { id: 1 }; select: { id: true; email: true } }>>>>();

    const included = prisma.user.findUnique({ where: { id: 1 }, include: { posts: true, profile: true }, cache: { tags: ["a"] } });
    expectTypeOf(included).resolves.toEqualTypeOf<(User & { posts: Post[]; profile: Profile | null }) | null>();

    const omitted = prisma.user.findUnique({ where: { id: 1 }, omit: { email: true }, cache: false });
    expectTypeOf(omitted).resolves.toEqualTypeOf<Omit<User, "email"> | null>();
    expectTypeOf(omitted).resolves.exclude<null>().not.toHaveProperty("email");
  });

  test("findUniqueOrThrow and findFirstOrThrow are non-null", () => {
    expectTypeOf(prisma.user.findUniqueOrThrow({ where: { id: 1 }, cache: { ttl: 10 } })).resolves.toEqualTypeOf<User>();
    expectTypeOf(prisma.user.findFirstOrThrow({ cache: false })).resolves.toEqualTypeOf<User>();
    expectTypeOf(prisma.user.findFirst({ cache: false })).resolves.toEqualTypeOf<User | null>();
    expectTypeOf(prisma.user.findUniqueOrThrow({ where: { email: "a" }, select: { name: true }, cache: { key: "k" } })).resolves.toEqualTypeOf<{
      name: string | null;
    }>();
  });

  test("findMany", () => {
    const plain = base.post.findMany({ where: { published: true }, include: { author: true } });
    const cached = prisma.post.findMany({ where: { published: true }, include: { author: true }, cache: { ttl: 10 } });
    expectTypeOf(cached).resolves.toEqualTypeOf<Awaited<typeof plain>>();
    expectTypeOf(cached).resolves.toEqualTypeOf<Array<Post & { author: User | null }>>();
    expectTypeOf(prisma.post.findMany({ select: { id: true }, cache: false })).resolves.toEqualTypeOf<Array<{ id: number }>>();
  });

  test("count", () => {
    expectTypeOf(prisma.post.count({ cache: { ttl: 10 } })).resolves.toEqualTypeOf<number>();
    expectTypeOf(prisma.post.count()).resolves.toEqualTypeOf<number>();
    const selected = prisma.user.count({ select: { _all: true, email: true }, cache: false });
    expectTypeOf(selected).resolves.toEqualTypeOf<{ _all: number; email: number }>();
    expectTypeOf(selected).resolves.toEqualTypeOf<Awaited<ReturnType<typeof base.user.count<{ select: { _all: true; email: true } }>>>>();
  });

  test("aggregate", () => {
    const cached = prisma.post.aggregate({ _sum: { views: true }, _count: { _all: true }, _max: { createdAt: true }, cache: { ttl: 10 } });
    expectTypeOf(cached).resolves.toEqualTypeOf<{ _sum: { views: number | null }; _count: { _all: number }; _max: { createdAt: Date | null } }>();
    const plain = base.post.aggregate({ _sum: { views: true }, _count: { _all: true }, _max: { createdAt: true } });
    expectTypeOf(cached).resolves.toEqualTypeOf<Awaited<typeof plain>>();
  });

  test("groupBy", () => {
    const cached = prisma.post.groupBy({ by: ["published"], _count: { _all: true }, _sum: { views: true }, cache: { ttl: 10 } });
    const plain = base.post.groupBy({ by: ["published"], _count: { _all: true }, _sum: { views: true } });
    expectTypeOf(cached).resolves.toEqualTypeOf<Awaited<typeof plain>>();
    // Prisma's groupBy rows are intersections; compare them field by field.
    type Row = Awaited<typeof cached>[number];
    expectTypeOf<keyof Row>().toEqualTypeOf<"published" | "_count" | "_sum">();
    expectTypeOf<Row["published"]>().toEqualTypeOf<boolean>();
    expectTypeOf<Row["_count"]>().toEqualTypeOf<{ _all: number }>();
    expectTypeOf<Row["_sum"]>().toEqualTypeOf<{ views: number | null }>();
  });

  test("a cached read is still a PrismaPromise (usable in batch $transaction)", () => {
    const read = prisma.user.findMany({ cache: { ttl: 1 } });
    expectTypeOf(read).toHaveProperty(Symbol.toStringTag);
    expectTypeOf(prisma.$transaction([read, prisma.post.count({ cache: false })])).resolves.toEqualTypeOf<[User[], number]>();
  });
});

describe("fluent API", () => {
  test("findUnique(...).posts() / .profile() as with Prisma", () => {
    const posts = prisma.user.findUnique({ where: { id: 1 } }).posts();
    expectTypeOf(posts).resolves.toEqualTypeOf<Awaited<ReturnType<ReturnType<typeof base.user.findUnique<{ where: { id: 1 } }>>["posts"]>>>();
    expectTypeOf(posts).resolves.toEqualTypeOf<Post[] | null>();

    const profile = prisma.user.findUnique({ where: { id: 1 }, cache: { ttl: 5 } }).profile();
    expectTypeOf(profile).resolves.toEqualTypeOf<Profile | null>();

    const narrowed = prisma.user.findUnique({ where: { id: 1 } }).posts({ where: { published: true }, select: { id: true } });
    expectTypeOf(narrowed).resolves.toEqualTypeOf<Array<{ id: number }> | null>();

    const author = prisma.post.findFirst({ cache: false }).author();
    expectTypeOf(author).resolves.toEqualTypeOf<User | null>();
  });

  test("OrThrow variants resolve to non-null lists", () => {
    expectTypeOf(prisma.user.findUniqueOrThrow({ where: { id: 1 } }).posts()).resolves.toEqualTypeOf<Post[]>();
    expectTypeOf(prisma.user.findFirstOrThrow().posts()).resolves.toEqualTypeOf<Post[]>();
  });

  test("relation arguments are checked", () => {
    // @ts-expect-error not a field of Post
    prisma.user.findUnique({ where: { id: 1 } }).posts({ where: { email: "x" } });
    // @ts-expect-error not a relation of User
    prisma.user.findUnique({ where: { id: 1 } }).comments();
  });
});

describe("interactive transaction client", () => {
  test("tx reads take the cache option", async () => {
    await prisma.$transaction(async (tx) => {
      expectTypeOf(tx.user.findMany({ cache: { ttl: 5 } })).resolves.toEqualTypeOf<User[]>();
      expectTypeOf(tx.user.findUnique({ where: { id: 1 }, cache: false })).resolves.toEqualTypeOf<User | null>();
      expectTypeOf(tx.post.count({ cache: { tags: ["feed"] } })).resolves.toEqualTypeOf<number>();
      // @ts-expect-error cache: true
      tx.user.findMany({ cache: true });
      // @ts-expect-error ttl string
      tx.user.findMany({ cache: { ttl: "5" } });
      // @ts-expect-error unknown key
      tx.user.findMany({ cache: { unknown: 1 } });
      // @ts-expect-error number
      tx.user.findMany({ cache: 5 });
    });
  });
});

describe("chained $extends", () => {
  test("result extension: cache option, computed field, $cache", () => {
    const ext = prisma.$extends({ result: { user: { shout: { needs: { email: true }, compute: (u) => u.email } } } });
    expectTypeOf(ext.user.findMany({ cache: { ttl: 5 } }))
      .resolves.items.toHaveProperty("shout")
      .toEqualTypeOf<string>();
    expectTypeOf(ext.user.findUnique({ where: { id: 1 }, select: { shout: true }, cache: false })).resolves.toEqualTypeOf<{ shout: string } | null>();
    expectTypeOf(ext.user.findUniqueOrThrow({ where: { id: 1 }, cache: { tags: ["a"] } }))
      .resolves.toHaveProperty("shout")
      .toEqualTypeOf<string>();
    // @ts-expect-error cache: true
    ext.user.findMany({ cache: true });
    // @ts-expect-error unknown key
    ext.user.findMany({ cache: { unknown: 1 } });
    expectTypeOf(ext.$cache.stats()).toEqualTypeOf<CacheStats>();
    expectTypeOf(ext.$cache.invalidate({ tags: ["x"] })).toEqualTypeOf<Promise<void>>();
  });

  test("query extension", () => {
    const ext = prisma.$extends({
      query: {
        user: {
          async findMany({ args, query }) {
            return query(args);
          },
        },
      },
    });
    expectTypeOf(ext.user.findMany({ cache: { ttl: 5 } })).resolves.toEqualTypeOf<User[]>();
    // @ts-expect-error ttl string
    ext.user.findMany({ cache: { ttl: "5" } });
    // @ts-expect-error cache: 5
    ext.user.findMany({ cache: 5 });
    expectTypeOf(ext.$cache.stats()).toEqualTypeOf<CacheStats>();
    expectTypeOf(ext.$cache.invalidate({ tags: ["x"] })).toEqualTypeOf<Promise<void>>();
  });

  test("model extension with a custom method, then a result extension", () => {
    const ext = prisma
      .$extends({
        model: {
          user: {
            async byEmail(email: string) {
              return { email };
            },
          },
        },
      })
      .$extends({ result: { user: { shout: { needs: { email: true }, compute: (u) => u.email } } } });
    expectTypeOf(ext.user.byEmail).parameters.toEqualTypeOf<[email: string]>();
    expectTypeOf(ext.user.byEmail("a")).resolves.toEqualTypeOf<{ email: string }>();
    expectTypeOf(ext.user.findMany({ cache: { ttl: 5 } }))
      .resolves.items.toHaveProperty("shout")
      .toEqualTypeOf<string>();
    expectTypeOf(ext.user.findFirst({ cache: false }).posts()).resolves.toEqualTypeOf<Post[] | null>();
    // @ts-expect-error tags string
    ext.user.findMany({ cache: { tags: "feed" } });
    // @ts-expect-error cache: true
    ext.post.count({ cache: true });
    expectTypeOf(ext.$cache.stats()).toEqualTypeOf<CacheStats>();
    expectTypeOf(ext.$cache.invalidate({ tags: ["x"] })).toEqualTypeOf<Promise<void>>();
  });
});

describe("declaring how results vary (isolation)", () => {
  const tenantFilter = (tenantId: string) =>
    Prisma.defineExtension({
      query: {
        $allModels: {
          async $allOperations({ args, query }) {
            return query(args);
          },
        },
      },
      client: { $tenant: () => tenantId },
    });

  test("cacheScope and cacheNeutral return the extension's own type", () => {
    const ext = tenantFilter("t1");
    expectTypeOf(cacheScope("t1", ext)).toEqualTypeOf<typeof ext>();
    expectTypeOf(cacheScope(() => "t1", ext)).toEqualTypeOf<typeof ext>();
    expectTypeOf(cacheNeutral(ext)).toEqualTypeOf<typeof ext>();
    expectTypeOf(cacheScope).parameter(0).toEqualTypeOf<ScopeSource>();
  });

  test("a declared client keeps the cache option, the extension's methods and $cache, also in $transaction and after more $extends", async () => {
    const tenant = prisma.$extends(cacheScope({ tenant: "t1", roles: ["admin"] }, tenantFilter("t1")));
    expectTypeOf(tenant.$tenant()).toEqualTypeOf<string>();
    expectTypeOf(tenant.user.findMany({ cache: { ttl: 5 } })).resolves.toEqualTypeOf<User[]>();
    expectTypeOf(tenant.user.findUnique({ where: { id: 1 }, cache: false })).resolves.toEqualTypeOf<User | null>();
    expectTypeOf(tenant.$cache.stats().bypassReasons).toEqualTypeOf<Record<BypassReason, number>>();
    // @ts-expect-error cache: true
    tenant.user.findMany({ cache: true });
    await tenant.$transaction(async (tx) => {
      expectTypeOf(tx.user.findMany({ cache: { tags: ["a"] } })).resolves.toEqualTypeOf<User[]>();
      // @ts-expect-error ttl is a number
      tx.user.findMany({ cache: { ttl: "5" } });
    });
    const more = tenant.$extends(cacheNeutral({ result: { user: { shout: { needs: { email: true }, compute: (u: { email: string }) => u.email } } } }));
    expectTypeOf(more.user.findMany({ cache: { ttl: 5 } }))
      .resolves.items.toHaveProperty("shout")
      .toEqualTypeOf<string>();
    expectTypeOf(more.$tenant()).toEqualTypeOf<string>();
  });

  test("scopes are values with a canonical form, or functions returning one", () => {
    prismaCache({ scope: "tenant-a" });
    prismaCache({ scope: () => undefined });
    prismaCache({ scope: () => ({ tenant: "a", user: 7n }) });
    prismaCache({ scope: [1, "a", null, true] });
    // @ts-expect-error a symbol has no canonical form
    prismaCache({ scope: Symbol("x") });
    // @ts-expect-error a scope function takes no arguments and returns a scope
    prismaCache({ scope: () => new Map() });
    // @ts-expect-error a symbol has no canonical form
    cacheScope(Symbol("x"), tenantFilter("t"));
    expectTypeOf<CacheScope>().not.toBeAny();
  });

  test("the bypass event", () => {
    prisma.$cache.on((e) => {
      if (e.type === "bypass") {
        expectTypeOf(e.reason).toEqualTypeOf<"query-extension" | "scope-error" | "row-level-security">();
        expectTypeOf(e.detail).toEqualTypeOf<string>();
        expectTypeOf(e.model).toEqualTypeOf<string>();
      }
    });
  });
});

describe("$cache", () => {
  test("API types", () => {
    expectTypeOf(prisma.$cache.stats()).toEqualTypeOf<CacheStats>();
    expectTypeOf(prisma.$cache.stats().hits.l1).toEqualTypeOf<number>();
    expectTypeOf(prisma.$cache.invalidate({ tags: ["x"] })).toEqualTypeOf<Promise<void>>();
    expectTypeOf(prisma.$cache.invalidate({ models: ["Post"], tags: ["x"] })).toEqualTypeOf<Promise<void>>();
    expectTypeOf(prisma.$cache.invalidateAll()).toEqualTypeOf<Promise<void>>();
    expectTypeOf(prisma.$cache.resetStats()).toEqualTypeOf<void>();
    // @ts-expect-error tags is an array
    prisma.$cache.invalidate({ tags: "x" });
    // @ts-expect-error models is an array of names
    prisma.$cache.invalidate({ models: [1] });
  });

  test("events, delivery and close", () => {
    expectTypeOf(prisma.$cache.on).parameter(0).parameter(0).toEqualTypeOf<CacheEvent>();
    expectTypeOf(prisma.$cache.on(() => undefined)).toEqualTypeOf<() => void>();
    prisma.$cache.on((e) => {
      if (e.type === "grace") expectTypeOf(e.error).toEqualTypeOf<unknown>();
      if (e.type === "lease-wait") expectTypeOf(e.key).toEqualTypeOf<string>();
    });
    expectTypeOf(prisma.$cache.lastPublished()).toEqualTypeOf<BumpId | undefined>();
    expectTypeOf(prisma.$cache.delivered({ instance: "a", seq: 1 })).toEqualTypeOf<Promise<void>>();
    expectTypeOf(prisma.$cache.ready()).toEqualTypeOf<Promise<void>>();
    expectTypeOf(prisma.$cache.close()).toEqualTypeOf<Promise<void>>();
    // @ts-expect-error seq is a number
    void prisma.$cache.delivered({ instance: "a", seq: "1" });
  });
});

describe("$queryRawCached", () => {
  test("typed like $queryRaw, with declared models and tags", () => {
    expectTypeOf(prisma.$queryRawCached<{ n: bigint }[]>(Prisma.sql`SELECT 1 AS n`, { models: ["Post"], tags: ["t"], ttl: 5 })).toEqualTypeOf<
      CachedPromise<{ n: bigint }[]>
    >();
    expectTypeOf(prisma.$queryRawCached(Prisma.sql`SELECT 1`, {})).toEqualTypeOf<CachedPromise<unknown>>();
    expectTypeOf(prisma.$queryRawCached<{ n: bigint }[]>(Prisma.sql`SELECT 1 AS n`, {})).resolves.toEqualTypeOf<{ n: bigint }[]>();
    // @ts-expect-error options are required (they say what the query reads)
    void prisma.$queryRawCached(Prisma.sql`SELECT 1`);
    // @ts-expect-error ttl is a number of seconds
    void prisma.$queryRawCached(Prisma.sql`SELECT 1`, { ttl: "5" });
    // @ts-expect-error a plain string is not a Prisma.Sql
    void prisma.$queryRawCached("SELECT 1", {});
    const tx = null as unknown as Parameters<Parameters<typeof prisma.$transaction>[0]>[0];
    expectTypeOf(tx.$queryRawCached(Prisma.sql`SELECT 1`, { models: ["User"] })).toEqualTypeOf<CachedPromise<unknown>>();
  });
});

describe("withCacheInfo()", () => {
  test("resolves to { data, info } with the read's exact data type", () => {
    expectTypeOf(prisma.user.findUnique({ where: { id: 1 } }).withCacheInfo()).resolves.toEqualTypeOf<{ data: User | null; info: CacheInfo }>();
    expectTypeOf(prisma.user.findUniqueOrThrow({ where: { id: 1 }, select: { email: true } }).withCacheInfo()).resolves.toEqualTypeOf<{
      data: { email: string };
      info: CacheInfo;
    }>();
    expectTypeOf(prisma.post.findMany({ include: { author: true }, cache: { ttl: 5 } }).withCacheInfo())
      .resolves.toHaveProperty("data")
      .items.toHaveProperty("author")
      .toEqualTypeOf<User | null>();
    expectTypeOf(prisma.post.count().withCacheInfo()).resolves.toEqualTypeOf<{ data: number; info: CacheInfo }>();
    expectTypeOf(prisma.$queryRawCached<{ n: bigint }[]>(Prisma.sql`SELECT 1 AS n`, {}).withCacheInfo()).resolves.toEqualTypeOf<{
      data: { n: bigint }[];
      info: CacheInfo;
    }>();
    expectTypeOf<CacheInfo["status"]>().toEqualTypeOf<CacheStatus>();
    expectTypeOf<CacheStatus>().toEqualTypeOf<"l1" | "l2" | "miss" | "stale" | "coalesced" | "grace" | "bypass">();
    expectTypeOf<CacheInfo>().toEqualTypeOf<{ status: CacheStatus; key: string | undefined; age: number; ttl: number; deps: readonly string[] }>();
  });

  test("inside an interactive transaction and after chained $extends", async () => {
    await prisma.$transaction(async (tx) => {
      expectTypeOf(tx.user.findMany({ cache: { ttl: 5 } }).withCacheInfo()).resolves.toEqualTypeOf<{ data: User[]; info: CacheInfo }>();
    });
    const ext = prisma.$extends({ result: { user: { shout: { needs: { email: true }, compute: (u) => u.email } } } });
    expectTypeOf(ext.user.findUnique({ where: { id: 1 }, select: { shout: true } }).withCacheInfo()).resolves.toEqualTypeOf<{
      data: { shout: string } | null;
      info: CacheInfo;
    }>();
  });
});

describe("prismaCache options", () => {
  test("valid options", () => {
    prismaCache();
    prismaCache({});
    prismaCache({
      ttl: 60,
      swr: 10,
      namespace: "app",
      redisTimeout: 200,
      l1: { max: 10_000, maxBytes: 64 * 2 ** 20, ttl: 5 },
      models: {
        Post: { ttl: 30, tags: ["feed"] },
        User: { invalidation: "write-through" },
        AuditLog: { cache: false },
      },
    });
    prismaCache({ l1: false });
  });

  test("invalid options do not compile", () => {
    // @ts-expect-error ttl is a number
    prismaCache({ ttl: "60" });
    // @ts-expect-error l1 is false or an object
    prismaCache({ l1: true });
    // @ts-expect-error invalidation is "invalidate" | "write-through"
    prismaCache({ models: { Post: { invalidation: "sometimes" } } });
    // @ts-expect-error unknown option
    prismaCache({ tll: 5 });
    // @ts-expect-error redis must be an ioredis or node-redis client
    prismaCache({ redis: {} });
    // @ts-expect-error a node-redis client without its commands is not one
    prismaCache({ redis: { isOpen: true, isReady: true } });
    // @ts-expect-error tags are strings
    prismaCache({ models: { Post: { tags: [1] } } });
    // A Cluster is accepted, like a Redis.
    prismaCache({ redis: null as unknown as Cluster });
    prismaCache({ redis: null as unknown as Redis });
  });

  test("every client family is accepted without a cast", () => {
    // ioredis 6 and iovalkey.
    prismaCache({ redis: null as unknown as Redis6 });
    prismaCache({ redis: null as unknown as Cluster6 });
    prismaCache({ redis: null as unknown as Valkey });
    prismaCache({ redis: null as unknown as ValkeyCluster });
    // node-redis 5 and 6, as createClient/createCluster return them, with RESP2 and RESP3.
    prismaCache({ redis: null as unknown as ReturnType<typeof createClient> });
    prismaCache({ redis: null as unknown as RedisClientType<RedisDefaultModules, Record<string, never>, Record<string, never>, 3> });
    prismaCache({ redis: null as unknown as RedisClusterType<RedisDefaultModules, Record<string, never>, Record<string, never>, 3> });
    prismaCache({ redis: null as unknown as ReturnType<typeof createCluster> });
    prismaCache({ redis: null as unknown as ReturnType<typeof createClient6> });
    prismaCache({ redis: null as unknown as RedisClientType6<Record<string, never>, Record<string, never>, Record<string, never>, 2> });
    prismaCache({ redis: null as unknown as ReturnType<typeof createCluster6> });
    // What `await client.connect()` resolves to.
    prismaCache({ redis: null as unknown as Awaited<ReturnType<ReturnType<typeof createClient>["connect"]>> });
  });
});

describe("public types have no `any`", () => {
  type IsAny<T> = 0 extends 1 & T ? true : false;
  /** true if `any` appears anywhere in T (functions: parameters and return). */
  type HasAny<T, Depth extends unknown[] = []> = Depth["length"] extends 6
    ? false
    : IsAny<T> extends true
      ? true
      : T extends (...args: infer P) => infer R
        ? HasAny<P, [...Depth, 0]> extends true
          ? true
          : HasAny<R, [...Depth, 0]>
        : T extends object
          ? true extends { [K in keyof T]-?: HasAny<T[K], [...Depth, 0]> }[keyof T]
            ? true
            : false
          : false;

  test("exported types are not any", () => {
    expectTypeOf<CacheStats>().not.toBeAny();
    expectTypeOf<CacheOptions>().not.toBeAny();
    expectTypeOf<QueryCacheOption>().not.toBeAny();
    expectTypeOf<CacheArgs>().not.toBeAny();
    expectTypeOf<CacheClientApi>().not.toBeAny();
    expectTypeOf<L1Options>().not.toBeAny();
    expectTypeOf<ModelCacheOptions>().not.toBeAny();
    expectTypeOf(prismaCache).returns.not.toBeAny();
    expectTypeOf(prisma.$cache).not.toBeAny();
  });

  test("and contain no any", () => {
    // The checker itself finds a nested any.
    expectTypeOf<HasAny<{ a: { b: () => any } }>>().toEqualTypeOf<true>();
    expectTypeOf<HasAny<{ a: { b: (x: any) => void } }>>().toEqualTypeOf<true>();
    expectTypeOf<HasAny<{ a?: { b: string[] | any } }>>().toEqualTypeOf<true>();
    expectTypeOf<HasAny<{ a: { b: () => Promise<number> } }>>().toEqualTypeOf<false>();
    expectTypeOf<HasAny<CacheStats>>().toEqualTypeOf<false>();
    expectTypeOf<HasAny<CacheOptions>>().toEqualTypeOf<false>();
    expectTypeOf<HasAny<QueryCacheOption>>().toEqualTypeOf<false>();
    expectTypeOf<HasAny<CacheArgs>>().toEqualTypeOf<false>();
    expectTypeOf<HasAny<CacheClientApi>>().toEqualTypeOf<false>();
    expectTypeOf<HasAny<typeof prisma.$cache>>().toEqualTypeOf<false>();
    expectTypeOf<HasAny<CacheEvent>>().toEqualTypeOf<false>();
    expectTypeOf<HasAny<ScopeSource>>().toEqualTypeOf<false>();
    expectTypeOf<HasAny<typeof cacheScope<{ name: string }>>>().toEqualTypeOf<false>();
  });
});
