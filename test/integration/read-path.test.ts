import { beforeEach, describe, expect, it } from "vitest";
import { Prisma } from "../../generated/prisma/client";
import { prismaCache } from "../../src/index";
import { redisUrl, uniqueNamespace } from "../support/db";
import { isClusterUrl, keysMatching, redisCommand } from "../support/redis-client";
import { selects, useSeededDatabase } from "../support/harness";

const t = useSeededDatabase();
const { cached, redis, plain } = t;

describe("cached reads, L1 only", () => {
  let c: ReturnType<typeof cached>;
  beforeEach(() => {
    c = cached();
    c.counter.reset();
  });

  it("answers the second identical read from L1 without a database query", async () => {
    const first = await c.prisma.user.findUnique({ where: { id: t.ids.users.alice } });
    expect(selects(c.counter)).toBe(1);
    const second = await c.prisma.user.findUnique({ where: { id: t.ids.users.alice } });
    expect(selects(c.counter)).toBe(1);
    expect(second).toEqual(first);
    expect(c.prisma.$cache.stats()).toMatchObject({ hits: { l1: 1, l2: 0 }, misses: 1 });
  });

  it("caches every read operation", async () => {
    const run = () =>
      Promise.all([
        c.prisma.post.findUnique({ where: { id: t.ids.posts.hello } }),
        c.prisma.post.findFirst({ where: { published: true }, orderBy: { id: "asc" } }),
        c.prisma.post.findMany({ orderBy: { id: "asc" } }),
        c.prisma.post.count({ where: { published: true } }),
        c.prisma.post.aggregate({ _sum: { views: true }, _max: { createdAt: true } }),
        c.prisma.post.groupBy({ by: ["published"], _count: { _all: true }, orderBy: { published: "asc" } }),
      ]);
    const cold = await run();
    const queries = selects(c.counter);
    expect(queries).toBe(6);
    const warm = await run();
    expect(selects(c.counter)).toBe(queries);
    expect(warm).toEqual(cold);
  });

  it("ignores key order in the arguments", async () => {
    await c.prisma.post.findMany({ where: { published: true, authorId: t.ids.users.alice }, orderBy: { id: "asc" }, take: 5 });
    await c.prisma.post.findMany({ take: 5, orderBy: { id: "asc" }, where: { authorId: t.ids.users.alice, published: true } });
    expect(selects(c.counter)).toBe(1);
    await c.prisma.post.findMany({ take: 4, orderBy: { id: "asc" }, where: { authorId: t.ids.users.alice, published: true } });
    expect(selects(c.counter)).toBe(2);
  });

  it("round-trips every scalar type, and mutating a result never changes the next one", async () => {
    const fromDb = await c.base.sample.findUniqueOrThrow({ where: { id: t.ids.samples.alpha } });
    const a = await c.prisma.sample.findUnique({ where: { id: t.ids.samples.alpha } });
    const b = await c.prisma.sample.findUnique({ where: { id: t.ids.samples.alpha } });
    expect(c.prisma.$cache.stats().hits.l1).toBe(1);
    for (const r of [a, b]) {
      expect(r).toEqual(fromDb);
      expect(r!.decimal).toBeInstanceOf(Prisma.Decimal);
      expect(r!.decimal.toFixed(6)).toBe(fromDb.decimal.toFixed(6));
      expect(typeof r!.big).toBe("bigint");
      expect(r!.at).toBeInstanceOf(Date);
      expect(r!.bytes).toBeInstanceOf(Uint8Array);
      expect(r!.json).toEqual(fromDb.json);
      expect(r!.role).toBe(fromDb.role);
    }
    b!.at.setFullYear(1999);
    b!.bytes[0] = 255;
    (b!.json as Record<string, unknown>).mutated = true;
    b!.text = "changed";
    const d = await c.prisma.sample.findUnique({ where: { id: t.ids.samples.alpha } });
    expect(d).toEqual(fromDb);
  });

  it("caches a compound-unique lookup and a null result", async () => {
    await c.prisma.sample.findUnique({ where: { tenant_slug: { tenant: "acme", slug: "nope" } } });
    const again = await c.prisma.sample.findUnique({ where: { tenant_slug: { tenant: "acme", slug: "nope" } } });
    expect(again).toBeNull();
    expect(selects(c.counter)).toBe(1);
  });

  it("bypasses with cache: false, with a model's cache: false, and without a ttl", async () => {
    await c.prisma.user.findMany({ cache: false });
    await c.prisma.user.findMany({ cache: false });
    expect(selects(c.counter)).toBe(2);

    const off = cached({ models: { Tag: { cache: false } } });
    off.counter.reset();
    await off.prisma.tag.findMany();
    await off.prisma.tag.findMany();
    expect(selects(off.counter)).toBe(2);

    const noTtl = cached({ ttl: undefined, models: { Post: { ttl: 30 } } });
    noTtl.counter.reset();
    await noTtl.prisma.user.findMany();
    await noTtl.prisma.user.findMany();
    expect(selects(noTtl.counter)).toBe(2);
    await noTtl.prisma.user.findMany({ cache: { ttl: 5 } });
    await noTtl.prisma.user.findMany({ cache: { ttl: 5 } });
    expect(selects(noTtl.counter)).toBe(3);
    await noTtl.prisma.post.findMany();
    await noTtl.prisma.post.findMany();
    expect(selects(noTtl.counter)).toBe(4);
    await noTtl.prisma.post.findMany({ cache: { ttl: 0 } });
    expect(selects(noTtl.counter)).toBe(5);
    expect(noTtl.prisma.$cache.stats().bypasses).toBe(3);
  });

  it("throws Prisma's own not-found error from *OrThrow, sharing entries with the plain form", async () => {
    await c.prisma.user.findUnique({ where: { id: t.ids.users.bob } });
    const viaThrow = await c.prisma.user.findUniqueOrThrow({ where: { id: t.ids.users.bob } });
    expect(viaThrow.id).toBe(t.ids.users.bob);
    expect(selects(c.counter)).toBe(1);
    const err = await c.prisma.user.findUniqueOrThrow({ where: { id: -1 } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Prisma.PrismaClientKnownRequestError);
    expect((err as Prisma.PrismaClientKnownRequestError).code).toBe("P2025");
    const err2 = await c.prisma.post.findFirstOrThrow({ where: { title: "no such title" } }).catch((e: unknown) => e);
    expect(err2).toBeInstanceOf(Prisma.PrismaClientKnownRequestError);
    expect((err2 as Prisma.PrismaClientKnownRequestError).code).toBe("P2025");
  });

  it("serves a repeated read from L1 before planning it, yet an *OrThrow of a cached not-found still throws each time", async () => {
    const where = { where: { id: -2 } };
    // findUnique caches null; the *OrThrow form shares its entry and must raise Prisma's error, however often its arguments were seen.
    expect(await c.prisma.user.findUnique(where)).toBeNull();
    for (let i = 0; i < 3; i++) {
      const err = await c.prisma.user.findUniqueOrThrow(where).catch((e: unknown) => e);
      expect((err as Prisma.PrismaClientKnownRequestError).code).toBe("P2025");
    }
    // A found row is served through the *OrThrow form from L1, the repeats before any plan is built, and counted per operation.
    const before = c.prisma.$cache.stats().byModel.User?.findUniqueOrThrow?.hits.l1 ?? 0;
    for (let i = 0; i < 3; i++) await c.prisma.user.findUniqueOrThrow({ where: { id: t.ids.users.bob } });
    const stats = c.prisma.$cache.stats();
    expect(stats.byModel.User?.findUniqueOrThrow?.hits.l1).toBe(before + 2);
    expect(stats.byModel.User?.findUnique?.hits.l1).toBe(0);
    // Mutating a result served by the early path never reaches the cache.
    const a = await c.prisma.user.findUnique({ where: { id: t.ids.users.bob } });
    a!.name = "changed by the caller";
    expect((await c.prisma.user.findUnique({ where: { id: t.ids.users.bob } }))!.name).not.toBe("changed by the caller");
  });

  it("works in a batch $transaction and with the fluent API", async () => {
    const [user, posts, n] = await c.prisma.$transaction([
      c.prisma.user.findUnique({ where: { id: t.ids.users.alice } }),
      c.prisma.post.findMany({ where: { authorId: t.ids.users.alice }, orderBy: { id: "asc" } }),
      c.prisma.post.count(),
    ]);
    expect(user?.id).toBe(t.ids.users.alice);
    expect(posts.length).toBeGreaterThan(0);
    expect(n).toBeGreaterThan(0);
    const fluent = await c.prisma.user.findUnique({ where: { id: t.ids.users.alice } }).posts({ orderBy: { id: "asc" } });
    expect(fluent!.map((p) => p.id)).toEqual(posts.map((p) => p.id));
    const profile = await c.prisma.user.findUniqueOrThrow({ where: { id: t.ids.users.alice } }).profile();
    expect(profile?.userId).toBe(t.ids.users.alice);
  });

  it("gives every model's fluent reads one shape, and a relation the model lacks throws a TypeError, as with Prisma", async () => {
    const other = t.cached();
    const shapes = new Set(
      [c.prisma.user.findUnique({ where: { id: 1 } }), c.prisma.post.findFirst(), other.prisma.profile.findUnique({ where: { id: 1 } })].map((q) =>
        Object.getPrototypeOf(q),
      ),
    );
    expect(shapes.size).toBe(1);
    const query = c.prisma.profile.findUnique({ where: { id: 1 } }) as unknown as { posts(): unknown };
    expect(() => query.posts()).toThrow(TypeError);
    expect(() => (t.plain().prisma.profile.findUnique({ where: { id: 1 } }) as unknown as { posts(): unknown }).posts()).toThrow(TypeError);
  });

  it("bypasses the cache for reads inside an interactive transaction", async () => {
    await c.prisma.user.findUnique({ where: { id: t.ids.users.carol } });
    c.counter.reset();
    await c.prisma.$transaction(async (tx) => {
      await tx.user.findUnique({ where: { id: t.ids.users.carol } });
      await tx.user.findUnique({ where: { id: t.ids.users.carol }, cache: { ttl: 5 } });
    });
    expect(c.counter.log.filter((q) => q.inTransaction && /select/i.test(q.sql)).length).toBe(2);
  });

  it("keeps omit working", async () => {
    const u = await c.prisma.user.findUnique({ where: { id: t.ids.users.alice }, omit: { email: true } });
    expect(u).not.toHaveProperty("email");
    const u2 = await c.prisma.user.findUnique({ where: { id: t.ids.users.alice }, omit: { email: true } });
    expect(u2).not.toHaveProperty("email");
    const full = await c.prisma.user.findUnique({ where: { id: t.ids.users.alice } });
    expect(full).toHaveProperty("email");
    expect(selects(c.counter)).toBe(2);
  });
});

describe("result extensions", () => {
  const shout = { result: { user: { shout: { needs: { email: true }, compute: (u: { email: string }) => u.email.toUpperCase() } } } };
  it.each(["before", "after"] as const)("applies computed fields defined %s the cache", async (order) => {
    const { prisma, counter } = plain();
    const cache = prismaCache({ ttl: 60, namespace: uniqueNamespace() });
    const x = order === "before" ? prisma.$extends(shout).$extends(cache) : prisma.$extends(cache).$extends(shout);
    counter.reset();
    const a = await x.user.findUnique({ where: { id: t.ids.users.alice } });
    const b = await x.user.findUnique({ where: { id: t.ids.users.alice } });
    expect(a?.shout).toBe(a?.email.toUpperCase());
    expect(b?.shout).toBe(a?.shout);
    expect(selects(counter)).toBe(1);
    expect(x.$cache.stats().hits.l1).toBe(1);
  });
});

describe("two tiers with Redis", () => {
  it("serves from L2 after L1 is cleared, and fills L1 from it", async () => {
    const namespace = uniqueNamespace();
    const a = cached({ redis: redis() }, namespace);
    const b = cached({ redis: redis() }, namespace);
    a.counter.reset();
    b.counter.reset();
    const first = await a.prisma.sample.findUnique({ where: { id: t.ids.samples.beta } });
    expect(selects(a.counter)).toBe(1);
    // b has an empty L1: its read comes from Redis.
    const fromL2 = await b.prisma.sample.findUnique({ where: { id: t.ids.samples.beta } });
    expect(selects(b.counter)).toBe(0);
    expect(fromL2).toEqual(first);
    expect(fromL2!.decimal).toBeInstanceOf(Prisma.Decimal);
    expect(b.prisma.$cache.stats().hits).toEqual({ l1: 0, l2: 1 });
    // and then from its own L1
    await b.prisma.sample.findUnique({ where: { id: t.ids.samples.beta } });
    expect(b.prisma.$cache.stats().hits).toEqual({ l1: 1, l2: 1 });
  });

  it("works with l1: false (Redis only)", async () => {
    const c = cached({ redis: redis(), l1: false });
    c.counter.reset();
    await c.prisma.user.findMany({ orderBy: { id: "asc" } });
    await c.prisma.user.findMany({ orderBy: { id: "asc" } });
    expect(selects(c.counter)).toBe(1);
    expect(c.prisma.$cache.stats().hits).toEqual({ l1: 0, l2: 1 });
  });

  it("deletes a corrupt L2 entry and treats it as a miss", async () => {
    const namespace = uniqueNamespace();
    const r = redis();
    const c = cached({ redis: r, l1: false }, namespace);
    c.counter.reset();
    await c.prisma.tag.findMany({ orderBy: { id: "asc" } });
    const keys = await keysMatching(redisUrl(), isClusterUrl(redisUrl()) ? `{${namespace}:*}:e:*` : `${namespace}:e:*`);
    expect(keys.length).toBe(1);
    const raw = (await redisCommand(r, "GET", keys[0]!)) as string;
    // The body ends the entry (after its header of versions): its last characters made unreadable.
    await redisCommand(r, "SET", keys[0]!, `${raw.slice(0, -2)}{not json`, "PX", 60_000);
    const again = await c.prisma.tag.findMany({ orderBy: { id: "asc" } });
    expect(again.length).toBeGreaterThan(0);
    expect(selects(c.counter)).toBe(2);
    expect(c.prisma.$cache.stats().corruptEntries).toBe(1);
  });

  it("checks an L1 entry against L2 after l1.ttl, and decodes L2's body only when it is another fill than L1's", async () => {
    const namespace = uniqueNamespace();
    const r = redis();
    // l1.ttl 0: every read after the first checks L1's entry against L2.
    const c = cached({ redis: r, l1: { ttl: 0 } }, namespace);
    c.counter.reset();
    const args = { orderBy: { id: "asc" as const } };
    const first = await c.prisma.tag.findMany(args);
    const [key] = await keysMatching(redisUrl(), isClusterUrl(redisUrl()) ? `{${namespace}:*}:e:*` : `${namespace}:e:*`);
    const raw = (await redisCommand(r, "GET", key!)) as string;
    const ttl = Number(await redisCommand(r, "PTTL", key!));
    // The body with the first tag's name changed, at the same length: what a decode of it would give is told apart.
    const name = first[0]!.name;
    const other = `${name[0] === "X" ? "Y" : "X"}${name.slice(1)}`;
    const body = raw.replace(`"name":"${name}"`, `"name":"${other}"`);
    expect(body).not.toBe(raw);
    await redisCommand(r, "SET", key!, body, "PX", ttl);
    // The same fill (its lifetime and size unchanged): L1's value, not decoded again; a caller's copy of its own.
    const checked = await c.prisma.tag.findMany(args);
    expect(checked).toEqual(first);
    checked[0]!.name = "mutated";
    expect(await c.prisma.tag.findMany(args)).toEqual(first);
    expect(c.prisma.$cache.stats().hits).toEqual({ l1: 0, l2: 2 });
    // Another fill (a later lifetime): decoded.
    const parts = body.split("|");
    parts[1] = String(Number(parts[1]) + 1);
    await redisCommand(r, "SET", key!, parts.join("|"), "PX", ttl);
    const refilled = await c.prisma.tag.findMany(args);
    expect(refilled[0]!.name).toBe(other);
    expect(refilled.slice(1)).toEqual(first.slice(1));
    expect(selects(c.counter)).toBe(1);
  });
});

describe("L1 bounds", () => {
  it("holds at most l1.max entries and at most l1.maxBytes", async () => {
    const byCount = cached({ l1: { max: 2 } });
    const reads = [t.ids.users.alice, t.ids.users.bob, t.ids.users.carol].map((id) => () => byCount.prisma.user.findUnique({ where: { id } }));
    for (const r of reads) await r();
    byCount.counter.reset();
    await reads[2]!(); // recent: still held
    await reads[0]!(); // the oldest was evicted
    expect(selects(byCount.counter)).toBe(1);

    const bySize = cached({ l1: { maxBytes: 1 } });
    await bySize.prisma.sample.findUnique({ where: { id: t.ids.samples.alpha } });
    bySize.counter.reset();
    await bySize.prisma.sample.findUnique({ where: { id: t.ids.samples.alpha } });
    expect(selects(bySize.counter)).toBe(1);
    expect(bySize.prisma.$cache.stats().hits.l1).toBe(0);
  });
});

describe("L2 reads of lookups by a non-primary unique key (entries that record the row they found)", () => {
  it("are hits after the first one (one MGET, validated in the process), and stale after a write to the row or a move of the key", async () => {
    const ns = uniqueNamespace();
    // Writes through the reader: their marks are released before its next read snapshots them (one connection).
    const reader = cached({ redis: redis(), l1: false }, ns);
    const writer = reader;
    const truth = plain().prisma;
    const a = await truth.user.create({ data: { email: `unique-a-${Math.random()}@example.com`, name: "A" } });
    const b = await truth.user.create({ data: { email: `unique-b-${Math.random()}@example.com`, name: "B" } });
    const byEmail = (email: string) => reader.prisma.user.findUnique({ where: { email } });

    expect(await byEmail(a.email)).toEqual(a); // miss: fills the entry
    reader.counter.reset();
    for (let i = 0; i < 3; i++) expect(await byEmail(a.email)).toEqual(a); // first by script, then by MGET
    expect(selects(reader.counter)).toBe(0);
    expect(reader.prisma.$cache.stats().hits.l2).toBe(3);

    // A write to the row found makes the entry stale for the known-keys read too.
    const renamed = await writer.prisma.user.update({ where: { id: a.id }, data: { name: "A2" } });
    expect(await byEmail(a.email)).toEqual(renamed);
    expect(selects(reader.counter)).toBe(1);

    // The key moves to another row: the entry is refilled with other recorded keys, and read correctly.
    const moved = `moved-${Math.random()}@example.com`;
    await writer.prisma.user.update({ where: { id: a.id }, data: { email: moved } });
    const bMoved = await writer.prisma.user.update({ where: { id: b.id }, data: { email: a.email } });
    expect(await byEmail(a.email)).toEqual(bMoved); // refills with b's row
    reader.counter.reset();
    expect(await byEmail(a.email)).toEqual(bMoved); // known keys were a's: falls back to the script, then learns b's
    expect(await byEmail(a.email)).toEqual(bMoved);
    expect(selects(reader.counter)).toBe(0);
    const b2 = await writer.prisma.user.update({ where: { id: b.id }, data: { name: "B2" } });
    expect(await byEmail(a.email)).toEqual(b2);
  });
});
