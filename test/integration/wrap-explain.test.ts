/**
 * `prisma.$cache.explain(read)` and `prisma.$cache.wrap(fn, options)`, on real
 * Postgres and Redis: an explanation says what the read then does (cached or
 * not, and why; its keys, dependencies and lifetimes), and counts, reports
 * and reads nothing; a wrapped function's results are cached in both tiers,
 * shared across processes, made stale by writes to its models and by its
 * tags, single-flight, and keep their types.
 */
import { describe, expect, expectTypeOf, it } from "vitest";
import { Prisma } from "../../generated/prisma/client";
import { type CacheEvent, type CacheExplanation, type CacheStats, CacheUsageError, prismaCache } from "../../src/index";
import { createClient, redisUrl, sqlIdent, uniqueNamespace } from "../support/db";
import { keysMatching } from "../support/redis-client";
import { selects, useSeededDatabase, useTenantDatabase } from "../support/harness";

const t = useSeededDatabase();
const tenants = useTenantDatabase();

type Cached = ReturnType<typeof t.cached>;

/**
 * A cached client with a Redis connection of its own. Its Redis timeout is
 * one a loaded machine does not reach, so that a first read waits for the
 * server's epoch check rather than going on without L2.
 */
const withRedis = (options: Parameters<typeof t.cached>[0] = {}, namespace?: string) =>
  t.cached({ redis: t.redis(), redisTimeout: 10_000, ...options }, namespace);
type AnyRead = PromiseLike<unknown> & {
  withCacheInfo(): PromiseLike<{ data: unknown; info: { status: string; key: string | undefined; deps: readonly string[] } }>;
};

/** Lets 5 ms of wall time pass: the entries of these tests that use it live 1 ms, so this only moves the clock past their ttl. */
const pastTtl = () => new Promise((r) => setTimeout(r, 5));

/** The bypass counts of a client. */
const bypassesOf = (c: { $cache: { stats(): CacheStats } }) => c.$cache.stats().bypassReasons;

/** A promise and the function that resolves it. */
function signal(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/**
 * Explains a read, then runs it: the explanation, and what the read did
 * (its cache info, and the bypass counters it moved). The explanation itself
 * moves no counter.
 */
async function explainThenRun(c: Cached["prisma"], read: () => AnyRead) {
  const before = bypassesOf(c);
  const explained = await c.$cache.explain(read());
  expect(bypassesOf(c), "explain counts nothing").toEqual(before);
  const { data, info } = await read().withCacheInfo();
  const after = bypassesOf(c);
  // The bypass counters the read moved, by how much.
  const moved = Object.fromEntries((Object.keys(after) as (keyof typeof after)[]).filter((k) => after[k] !== before[k]).map((k) => [k, after[k] - before[k]]));
  return { explained, info, data, moved };
}

describe("$cache.explain(read)", () => {
  it("a cached findUnique: its keys, tiers, dependencies and lifetimes, as the read then records them", async () => {
    const admin = t.admin();
    const c = withRedis({ swr: 30, grace: 5 });
    // The fingerprint and the server epoch are known after a first read.
    await c.prisma.user.findUnique({ where: { id: t.ids.users.bob } });
    c.counter.reset();
    const read = () => c.prisma.user.findUnique({ where: { id: t.ids.users.alice } });
    const e = await c.prisma.$cache.explain(read());
    expect(e).toMatchObject({ cached: true, reason: undefined, detail: undefined, tiers: ["l1", "l2"], ttl: 60_000, swr: 30_000, grace: 5_000 });
    expect(e.l1Key).toContain(`User|findUnique|{"where":{"id":#${t.ids.users.alice}}}`);
    expect(e.key).toMatch(/^[\w-]{16,}$/);
    expect(e.l2Key, e.notes.join("; ")).toMatch(new RegExp(`:e:[^:]+:${e.key}$`));
    expect(e.l2Key!.startsWith(c.namespace)).toBe(true);
    // Nothing ran, nothing was stored.
    expect(selects(c.counter)).toBe(0);
    expect(await admin.exists(e.l2Key!)).toBe(0);
    const { data, info } = await read().withCacheInfo();
    expect(data?.id).toBe(t.ids.users.alice);
    expect(info.status).toBe("miss");
    expect(info.key).toBe(e.key);
    expect(info.deps.slice(0, e.deps.length)).toEqual(e.deps);
    if (!e.resultDeps) expect(info.deps).toEqual(e.deps);
    // The L2 key is the entry Redis now holds.
    expect(await admin.exists(e.l2Key!)).toBe(1);
    // A hit changes nothing in the decision.
    expect(await c.prisma.$cache.explain(read())).toEqual(e);
    // withCacheInfo()'s lazy object is explained as its read.
    expect(await c.prisma.$cache.explain(read().withCacheInfo())).toEqual(e);
  });

  it("keys ignore argument order, like the read's", async () => {
    const c = t.cached();
    const a = await c.prisma.$cache.explain(c.prisma.post.findMany({ where: { published: true, authorId: t.ids.users.alice }, take: 3 }));
    const b = await c.prisma.$cache.explain(c.prisma.post.findMany({ take: 3, where: { authorId: t.ids.users.alice, published: true } }));
    expect(b.l1Key).toBe(a.l1Key);
    expect(b.key).toBe(a.key);
  });

  it("a list and a lookup by another unique key: dependencies found in the result are added after the query", async () => {
    const c = withRedis();
    const list = await explainThenRun(c.prisma, () => c.prisma.post.findMany({ where: { published: true }, orderBy: { id: "asc" } }));
    expect(list.explained.resultDeps).toBe(true);
    expect(list.explained.notes.join(" ")).toMatch(/found in the result/);
    expect(list.info.key).toBe(list.explained.key);
    expect(list.info.deps.slice(0, list.explained.deps.length)).toEqual(list.explained.deps);
    const found = list.info.deps.slice(list.explained.deps.length);
    // Each returned row, by its primary key.
    expect(found).toEqual(expect.arrayContaining((list.data as { id: number }[]).map((p) => `r:Post:[#${p.id}]`)));
    const byEmail = await explainThenRun(c.prisma, () => c.prisma.user.findUnique({ where: { email: "carol@example.com" } }));
    expect(byEmail.explained.resultDeps).toBe(true);
    // The model may not move while the query runs (its row is only known from the result).
    expect(byEmail.explained.guards).toContain("m:User");
    expect(byEmail.info.deps.slice(0, byEmail.explained.deps.length)).toEqual(byEmail.explained.deps);
    expect(byEmail.info.deps).toContain(`r:User:[#${t.ids.users.carol}]`);
  });

  it("a cached raw read: its declared dependencies and key", async () => {
    const c = withRedis();
    const read = () =>
      c.prisma.$queryRawCached<{ n: bigint }[]>(Prisma.sql`SELECT count(*) AS n FROM ${sqlIdent("Post")} WHERE views >= ${1}`, {
        models: ["Post"],
        tags: ["feed"],
        ttl: 20,
      });
    const { explained, info } = await explainThenRun(c.prisma, read);
    expect(explained).toMatchObject({ cached: true, deps: ["m:Post", "t:feed"], guards: [], resultDeps: false, ttl: 20_000, tiers: ["l1", "l2"] });
    expect(explained.l1Key).toMatch(/^\$raw\|/);
    expect(info.status).toBe("miss");
    expect(info.key).toBe(explained.key);
    expect(info.deps).toEqual(explained.deps);
  });

  it("the tiers follow the options: L1 only without Redis, L2 only with l1: false", async () => {
    const local = t.cached();
    const onlyL1 = await local.prisma.$cache.explain(local.prisma.post.count());
    expect(onlyL1).toMatchObject({ cached: true, tiers: ["l1"], l2Key: undefined });
    // The key id is formed without Redis too, as withCacheInfo() reports it.
    expect(onlyL1.key).toBe((await local.prisma.post.count().withCacheInfo()).info.key);
    const remote = withRedis({ l1: false });
    const onlyL2 = await remote.prisma.$cache.explain(remote.prisma.post.count());
    expect(onlyL2).toMatchObject({ cached: true, tiers: ["l2"] });
  });

  it("on a new cache with Redis, it waits for the database fingerprint, as the first read does", async () => {
    const c = withRedis();
    const read = () => c.prisma.post.findUnique({ where: { id: t.ids.posts.draft } });
    const e = await c.prisma.$cache.explain(read());
    expect(e.key).toBeDefined();
    expect(e.tiers).toEqual(["l1", "l2"]);
    expect((await read().withCacheInfo()).info.key).toBe(e.key);
  });

  it("each bypass reason, as the read then counts it", async () => {
    const c = t.cached();
    const cases: Array<[string, Cached["prisma"], () => AnyRead]> = [
      ["cache-false", c.prisma, () => c.prisma.post.findMany({ cache: false })],
      ["no-ttl", c.prisma, () => c.prisma.post.findMany({ cache: { ttl: 0 } })],
    ];
    const disabled = t.cached({ models: { Tag: { cache: false } } });
    cases.push(["model-disabled", disabled.prisma, () => disabled.prisma.tag.findMany()]);
    const noTtl = t.cached({ ttl: 0 });
    cases.push(["no-ttl", noTtl.prisma, () => noTtl.prisma.post.count()]);
    cases.push(["no-ttl", noTtl.prisma, () => noTtl.prisma.$queryRawCached(Prisma.sql`SELECT 1 AS one`, { models: ["Post"] })]);
    const hooked = c.prisma.$extends({ name: "audit-log", query: { post: { findMany: ({ args, query }) => query(args) } } });
    cases.push(["query-extension", c.prisma, () => hooked.post.findMany()]);
    const failing = t.cached({
      scope: () => {
        throw new Error("no request context");
      },
    });
    cases.push(["scope-error", failing.prisma, () => failing.prisma.user.count()]);
    cases.push(["scope-error", failing.prisma, () => failing.prisma.$queryRawCached(Prisma.sql`SELECT 1 AS one`, { tags: ["x"] })]);
    for (const [reason, client, read] of cases) {
      const { explained, info, moved } = await explainThenRun(client, read);
      expect(explained, reason).toMatchObject({ cached: false, reason, tiers: [], l1Key: undefined, key: undefined, deps: [], ttl: 0 });
      expect(explained.detail, reason).toEqual(expect.any(String));
      expect(info.status, reason).toBe("bypass");
      expect(moved, reason).toEqual({ [reason]: 1 });
    }
    expect((await c.prisma.$cache.explain(hooked.post.findMany())).detail).toMatch(/extension "audit-log" hooks Post.findMany beneath the cache/);
    // A read of another operation through the hooked client is cached.
    expect((await c.prisma.$cache.explain(hooked.post.count())).cached).toBe(true);
  });

  it("inside an interactive transaction: transaction, as the read then counts it", async () => {
    const c = t.cached();
    await c.prisma.$transaction(async (tx) => {
      const before = bypassesOf(c.prisma).transaction;
      const model = await c.prisma.$cache.explain(tx.user.count());
      const raw = await c.prisma.$cache.explain(tx.$queryRawCached(Prisma.sql`SELECT 1 AS one`, { tags: ["x"] }));
      expect(model).toMatchObject({ cached: false, reason: "transaction" });
      expect(raw).toMatchObject({ cached: false, reason: "transaction" });
      expect(bypassesOf(c.prisma).transaction).toBe(before);
      expect((await tx.user.count().withCacheInfo()).info.status).toBe("bypass");
      expect(bypassesOf(c.prisma).transaction).toBe(before + 1);
    });
  });

  it("counts, reports and reads nothing: no statement, no event, no entry, no counter", async () => {
    const c = withRedis();
    await c.prisma.$cache.explain(c.prisma.post.count()); // the fingerprint is taken once
    const events: CacheEvent[] = [];
    c.prisma.$cache.on((e) => events.push(e));
    const hooked = c.prisma.$extends({ query: { user: { findMany: ({ args, query }) => query(args) } } });
    c.counter.reset();
    const stats = c.prisma.$cache.stats();
    for (const read of [
      c.prisma.post.findMany({ where: { published: true } }),
      c.prisma.user.findUniqueOrThrow({ where: { email: "alice@example.com" } }),
      c.prisma.post.count({ cache: false }),
      hooked.user.findMany(),
      c.prisma.$queryRawCached(Prisma.sql`SELECT 1 AS one`, { models: ["User"] }),
    ]) {
      await c.prisma.$cache.explain(read);
    }
    expect(c.counter.log.filter((q) => q.kind === "query")).toEqual([]);
    expect(events).toEqual([]);
    expect(c.prisma.$cache.stats()).toEqual(stats);
    expect(stats.byModel).toEqual({});
    expect(await keysMatching(redisUrl(), `${c.namespace}*:e:*`)).toEqual([]);
  });

  it("refuses what is not a cached read of this cache, naming the problem", async () => {
    const c = t.cached();
    const other = t.cached();
    const explain = (read: unknown) => c.prisma.$cache.explain(read as PromiseLike<unknown>);
    await expect(explain(await c.prisma.post.count())).rejects.toThrow(CacheUsageError);
    await expect(explain(await c.prisma.post.count())).rejects.toThrow(/read must be a cached read as called, not awaited.*got number/);
    await expect(explain(c.base.post.findMany())).rejects.toThrow(/not a cached read/);
    await expect(explain(undefined)).rejects.toThrow(/got undefined/);
    await expect(explain(other.prisma.post.findMany())).rejects.toThrow(/belongs to another cache/);
    // A malformed cache option: the read's own error, as the read would reject with it.
    await expect(explain(c.prisma.post.findMany({ cache: { ttl: -1 } }))).rejects.toThrow(/Post.findMany\(\{ cache \}\): ttl must be a number of seconds >= 0/);
    await expect(explain(c.prisma.$queryRawCached(Prisma.sql`SELECT 1`, { models: ["Nope"] }))).rejects.toThrow(/unknown model "Nope"/);
  });
});

describe("$cache.explain(read) and row-level security", () => {
  it("a read of a table whose row-level security applies: row-level-security, as the read then counts it; declared with a scope: cached", async () => {
    const restricted = createClient(tenants.rlsUrl);
    const undeclared = restricted.prisma.$extends(prismaCache({ redis: tenants.redis(), ttl: 60, namespace: uniqueNamespace() }));
    const scoped = restricted.prisma.$extends(prismaCache({ redis: tenants.redis(), ttl: 60, namespace: uniqueNamespace(), scope: { customer: 0 } }));
    tenants.cleanup(async () => {
      await Promise.all([undeclared.$disconnect(), scoped.$disconnect()]);
      await restricted.prisma.$disconnect();
    });
    const events: CacheEvent[] = [];
    undeclared.$cache.on((e) => events.push(e));
    const read = () => undeclared.order.findMany({ orderBy: { id: "asc" } });
    const e = await undeclared.$cache.explain(read());
    expect(e).toMatchObject({ cached: false, reason: "row-level-security", tiers: [] });
    expect(e.detail).toMatch(/it reads Order, and row-level security applies to this database user on .*Order/);
    expect(events.filter((e) => e.type === "bypass")).toEqual([]);
    expect(undeclared.$cache.stats().bypassReasons["row-level-security"]).toBe(0);
    expect((await read().withCacheInfo()).info.status).toBe("bypass");
    expect(undeclared.$cache.stats().bypassReasons["row-level-security"]).toBe(1);
    expect(events.filter((e) => e.type === "bypass")).toMatchObject([{ reason: "row-level-security", model: "Order" }]);
    // A table without row-level security stays cached for it.
    expect((await undeclared.$cache.explain(undeclared.customer.count())).cached).toBe(true);
    // With a scope declared, the read is cached (keyed by the scope).
    const declared = await scoped.$cache.explain(scoped.order.findMany({ orderBy: { id: "asc" } }));
    expect(declared).toMatchObject({ cached: true, tiers: ["l1", "l2"] });
    expect((await scoped.order.findMany({ orderBy: { id: "asc" } }).withCacheInfo()).info).toMatchObject({ status: "miss", key: declared.key });
  });
});

describe("$cache.wrap(fn, options)", () => {
  it("caches a function's results: the second call is a hit, a copy the caller may change", async () => {
    const c = withRedis();
    let calls = 0;
    const summary = c.prisma.$cache.wrap(
      async function postSummary(id: number) {
        calls++;
        const p = await c.base.post.findUniqueOrThrow({ where: { id } });
        return { title: p.title, createdAt: p.createdAt, views: BigInt(p.views) };
      },
      { models: ["Post"] },
    );
    expectTypeOf(summary).toEqualTypeOf<(id: number) => Promise<{ title: string; createdAt: Date; views: bigint }>>();
    expect(summary.name).toBe("postSummary");
    const first = await summary(t.ids.posts.hello);
    const second = await summary(t.ids.posts.hello);
    expect(calls).toBe(1);
    expect(second).toEqual(first);
    expect(second.createdAt).toBeInstanceOf(Date);
    expect(typeof second.views).toBe("bigint");
    second.title = "changed by a caller";
    expect((await summary(t.ids.posts.hello)).title).toBe("Hello");
    await summary(t.ids.posts.draft);
    expect(calls).toBe(2);
    expect(c.prisma.$cache.stats().byModel["$cache.wrap"]?.postSummary).toMatchObject({ hits: { l1: 2, l2: 0 }, misses: 2, fills: 2 });
  });

  it("keeps the result's types through Redis: Date, bigint, Decimal, bytes, Buffer, null, undefined", async () => {
    const namespace = uniqueNamespace();
    const a = withRedis({}, namespace);
    const b = withRedis({ l1: false }, namespace);
    const value = () => ({
      at: new Date("2024-02-29T12:34:56.789Z"),
      big: 2n ** 63n - 1n,
      decimal: new Prisma.Decimal("12345.678901"),
      bytes: new Uint8Array([0, 1, 254, 255]),
      buffer: Buffer.from("hello"),
      none: null,
      missing: undefined,
      nested: [{ n: -0, inf: Number.POSITIVE_INFINITY }],
    });
    let calls = 0;
    const make = () => async (_id: number) => {
      calls++;
      return value();
    };
    const inA = a.prisma.$cache.wrap(make(), { tags: ["types"] });
    const inB = b.prisma.$cache.wrap(make(), { tags: ["types"] });
    await inA(1);
    const fromL2 = await inB(1);
    expect(calls).toBe(1);
    expect(b.prisma.$cache.stats().hits.l2).toBe(1);
    expect(fromL2).toEqual(value());
    expect(fromL2.at).toBeInstanceOf(Date);
    expect(typeof fromL2.big).toBe("bigint");
    expect(fromL2.decimal).toBeInstanceOf(Prisma.Decimal);
    expect(fromL2.bytes.constructor).toBe(Uint8Array);
    expect(Buffer.isBuffer(fromL2.buffer)).toBe(true);
    expect(fromL2.buffer.toString()).toBe("hello");
    expect("missing" in fromL2).toBe(true);
    expect(Object.is(fromL2.nested[0]!.n, -0)).toBe(true);
    const fromL1 = await inA(1);
    expect(fromL1).toEqual(value());
    expect(Buffer.isBuffer(fromL1.buffer)).toBe(true);
  });

  it("two processes share the entry; a write to a declared model through either makes it run again, once, for both", async () => {
    const namespace = uniqueNamespace();
    const a = withRedis({}, namespace);
    const b = withRedis({}, namespace);
    let calls = 0;
    // The same code in each process: a function object of its own, with the same source.
    const make = () => async (authorId: number) => {
      calls++;
      return a.base.post.count({ where: { authorId } });
    };
    const inA = a.prisma.$cache.wrap(make(), { models: ["Post"] });
    const inB = b.prisma.$cache.wrap(make(), { models: ["Post"] });
    const alice = t.ids.users.alice;
    const n = await inA(alice);
    expect(await inB(alice)).toBe(n);
    expect(calls).toBe(1);
    expect(b.prisma.$cache.stats().hits.l2).toBe(1);

    await a.prisma.post.create({ data: { title: "wrap: written through a", authorId: alice } });
    await b.prisma.$cache.delivered(a.prisma.$cache.lastPublished()!);
    expect(await inB(alice)).toBe(n + 1);
    expect(await inA(alice)).toBe(n + 1);
    expect(calls).toBe(2);

    await b.prisma.post.create({ data: { title: "wrap: written through b", authorId: alice } });
    await a.prisma.$cache.delivered(b.prisma.$cache.lastPublished()!);
    expect(await inA(alice)).toBe(n + 2);
    expect(await inB(alice)).toBe(n + 2);
    expect(calls).toBe(3);

    // A write to a model it does not declare leaves it cached.
    await a.prisma.tag.create({ data: { name: `wrap-${namespace}` } });
    await b.prisma.$cache.delivered(a.prisma.$cache.lastPublished()!);
    expect(await inB(alice)).toBe(n + 2);
    expect(await inA(alice)).toBe(n + 2);
    expect(calls).toBe(3);
  });

  it("a write to a declared model while the function runs: its result is not stored (compare-and-set fill)", async () => {
    const c = withRedis();
    const gate = signal();
    const started = signal();
    let calls = 0;
    const fn = c.prisma.$cache.wrap(
      async () => {
        calls++;
        started.resolve();
        if (calls === 1) await gate.promise;
        return calls;
      },
      { models: ["Post"] },
    );
    const first = fn();
    await started.promise;
    await c.prisma.post.update({ where: { id: t.ids.posts.orphan }, data: { views: { increment: 1 } } });
    gate.resolve();
    expect(await first).toBe(1);
    expect(c.prisma.$cache.stats()).toMatchObject({ fills: 0, fillsRefused: 1 });
    expect(await fn()).toBe(2);
    expect(await fn()).toBe(2);
  });

  it("invalidate({ tags }) makes its results stale in every process; other tags leave them", async () => {
    const namespace = uniqueNamespace();
    const a = withRedis({}, namespace);
    const b = withRedis({}, namespace);
    let calls = 0;
    const make = () => async () => {
      calls++;
      return { version: calls };
    };
    const inA = a.prisma.$cache.wrap(make(), { tags: ["report"] });
    const inB = b.prisma.$cache.wrap(make(), { tags: ["report"] });
    expect(await inA()).toEqual({ version: 1 });
    expect(await inB()).toEqual({ version: 1 });
    await b.prisma.$cache.invalidate({ tags: ["other"] });
    await a.prisma.$cache.delivered(b.prisma.$cache.lastPublished()!);
    expect(await inA()).toEqual({ version: 1 });
    await b.prisma.$cache.invalidate({ tags: ["report"] });
    await a.prisma.$cache.delivered(b.prisma.$cache.lastPublished()!);
    expect(await inA()).toEqual({ version: 2 });
    expect(await inB()).toEqual({ version: 2 });
    expect(calls).toBe(2);
  });

  it("concurrent calls on a cold key run the function once: in one process, and across two (the lease)", async () => {
    const namespace = uniqueNamespace();
    const a = withRedis({}, namespace);
    const b = withRedis({}, namespace);
    const gate = signal();
    const started = signal();
    let calls = 0;
    const make = () => async (k: string) => {
      calls++;
      started.resolve();
      await gate.promise;
      return `value of ${k}`;
    };
    const inA = a.prisma.$cache.wrap(make(), { ttl: 30 });
    const inB = b.prisma.$cache.wrap(make(), { ttl: 30 });
    const waiting = signal();
    b.prisma.$cache.on((e) => {
      if (e.type === "lease-wait") waiting.resolve();
    });
    const inProcess = Promise.all([inA("x"), inA("x"), inA("x")]);
    await started.promise;
    const elsewhere = inB("x");
    await waiting.promise;
    gate.resolve();
    expect(await inProcess).toEqual(["value of x", "value of x", "value of x"]);
    expect(await elsewhere).toBe("value of x");
    expect(calls).toBe(1);
    expect(a.prisma.$cache.stats().coalesced).toBe(2);
    expect(b.prisma.$cache.stats()).toMatchObject({ leaseWaits: 1, hits: { l2: 1 }, misses: 0 });
  });

  it("different functions with the same arguments never share entries; closures of one factory need a name each", async () => {
    const c = t.cached();
    const one = c.prisma.$cache.wrap(async (x: number) => `one ${x}`);
    const two = c.prisma.$cache.wrap(async (x: number) => `two ${x}`);
    expect(await one(1)).toBe("one 1");
    expect(await two(1)).toBe("two 1");
    expect(await one(1)).toBe("one 1");
    const factory = (prefix: string) => async (x: number) => `${prefix} ${x}`;
    c.prisma.$cache.wrap(factory("first"));
    expect(() => c.prisma.$cache.wrap(factory("second"))).toThrow(
      /another function with the same name and source is wrapped by this cache already.*options\.name/,
    );
    const first = c.prisma.$cache.wrap(factory("first"), { name: "first" });
    const second = c.prisma.$cache.wrap(factory("second"), { name: "second" });
    expect(await first(1)).toBe("first 1");
    expect(await second(1)).toBe("second 1");
    // The same function object may be wrapped again: it shares its entries.
    const fn = async (x: number) => ({ x, at: Date.now() });
    const once = c.prisma.$cache.wrap(fn);
    const again = c.prisma.$cache.wrap(fn);
    expect(await again(5)).toEqual(await once(5));
    // A bound function's source says nothing of it: it needs a name.
    expect(() => c.prisma.$cache.wrap(fn.bind(null))).toThrow(/bound or native function.*options\.name/);
    expect((await c.prisma.$cache.wrap(fn.bind(null), { name: "bound" })(5)).x).toBe(5);
  });

  it("a custom key: a string, or a function of the arguments", async () => {
    const c = t.cached();
    let calls = 0;
    const fixed = c.prisma.$cache.wrap(
      async (_x: number) => {
        calls++;
        return calls;
      },
      { key: "the-only-entry" },
    );
    expect(await fixed(1)).toBe(1);
    expect(await fixed(2)).toBe(1);
    const byId = c.prisma.$cache.wrap(
      async (user: { id: number; name: string }) => {
        calls++;
        return `${user.id}:${user.name}`;
      },
      { key: (user) => `user:${user.id}` },
    );
    expect(await byId({ id: 7, name: "first" })).toBe("7:first");
    expect(await byId({ id: 7, name: "renamed" })).toBe("7:first");
    expect(await byId({ id: 8, name: "other" })).toBe("8:other");
    expect(calls).toBe(3);
    // Arguments the canonical form cannot hold need a key; a key function must give a string.
    const withCallback = c.prisma.$cache.wrap(async (f: () => number) => f());
    await expect(withCallback(() => 1)).rejects.toThrow(
      /the arguments have no canonical form \(cannot canonicalize value at \$\[0\]: function\); pass options\.key/,
    );
    const badKey = c.prisma.$cache.wrap(async (x: number) => x, { key: () => 42 as unknown as string });
    await expect(badKey(1)).rejects.toThrow(/options\.key\(\.\.\.args\) must return a non-empty string, got number/);
    // A result the codec cannot store is refused, said at once.
    const unstorable = c.prisma.$cache.wrap(async () => new Map([[1, 2]]));
    await expect(unstorable()).rejects.toThrow(/the result cannot be cached \(cannot encode value at \$: instance of Map\)/);
  });

  it("without a ttl it runs every time (a no-ttl bypass); its own ttl caches it", async () => {
    const c = t.cached({ ttl: 0 });
    let calls = 0;
    const fn = c.prisma.$cache.wrap(async () => ++calls);
    expect(await fn()).toBe(1);
    expect(await fn()).toBe(2);
    expect(c.prisma.$cache.stats().bypassReasons["no-ttl"]).toBe(2);
    // The same source wrapped again is another function object: it needs a name of its own.
    const cachedFn = c.prisma.$cache.wrap(async () => ++calls, { ttl: 30, name: "with its own ttl" });
    expect(await cachedFn()).toBe(3);
    expect(await cachedFn()).toBe(3);
  });

  it("swr serves a stale result at once and refreshes it; grace serves one when the function fails", async () => {
    const c = withRedis({ grace: 60 });
    let calls = 0;
    let graceCalls = 0;
    let fail = false;
    const fn = c.prisma.$cache.wrap(
      async () => {
        if (fail) throw new Error("upstream down");
        return ++calls;
      },
      { ttl: 0.001, swr: 60 },
    );
    expect(await fn()).toBe(1);
    await pastTtl();
    const refreshed = new Promise<void>((resolve) => c.prisma.$cache.on((e) => e.type === "refreshed" && resolve()));
    expect(await fn()).toBe(1);
    await refreshed;
    expect(calls).toBe(2);
    expect(await fn()).toBe(2);
    const grace = c.prisma.$cache.wrap(
      async () => {
        if (fail) throw new Error("upstream down");
        return ++graceCalls;
      },
      { ttl: 0.001, name: "graceful" },
    );
    expect(await grace()).toBe(1);
    await pastTtl();
    fail = true;
    expect(await grace()).toBe(1);
    expect(c.prisma.$cache.stats().graceServed).toBe(1);
  });

  it("refuses bad options, naming the field", () => {
    const c = t.cached();
    const wrap = (fn: unknown, options?: unknown) => c.prisma.$cache.wrap(fn as () => Promise<void>, options as undefined);
    const fn = async () => undefined;
    const cases: Array<[unknown, unknown, RegExp]> = [
      [42, {}, /fn must be a function, got number/],
      [fn, "Post", /options must be an object/],
      [fn, { ttl: 10, model: ["Post"] }, /unknown option "model" \(allowed: name, key, models, tags, ttl, swr\)/],
      [fn, { models: "Post" }, /models must be an array of model names/],
      [fn, { models: ["Nope"] }, /unknown model "Nope"/],
      [fn, { ttl: -1 }, /ttl must be a number of seconds >= 0/],
      [fn, { swr: "1" }, /swr must be a number of seconds >= 0/],
      [fn, { tags: ["ok", ""] }, /tags must be an array of non-empty strings/],
      [fn, { key: 5 }, /key must be a non-empty string, or a function/],
      [fn, { name: "" }, /name must be a non-empty string/],
    ];
    for (const [f, options, message] of cases) {
      expect(() => wrap(f, options)).toThrow(CacheUsageError);
      expect(() => wrap(f, options)).toThrow(message);
    }
  });
});

it("types: an explanation's reason is a bypass reason of stats()", () => {
  expectTypeOf<CacheExplanation["reason"]>().toEqualTypeOf<keyof CacheStats["bypassReasons"] | undefined>();
});
