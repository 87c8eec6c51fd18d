import { describe, expect, it } from "vitest";
import { byProvider, provider, sqlIdent, uniqueNamespace } from "../support/db";
import { selects, useSeededDatabase } from "../support/harness";

const t = useSeededDatabase();
const { cached, redis } = t;

type Client = ReturnType<typeof cached>["prisma"];
type WriteKind = { name: string; read: (p: Client) => Promise<unknown>; write: (p: Client) => Promise<unknown> };

/**
 * A `*AndReturn` write kind, on the providers Prisma has it on. Prisma has
 * no createManyAndReturn or updateManyAndReturn on MySQL/MariaDB (they are
 * built on RETURNING, which MySQL lacks: "Operation 'createManyAndReturn'
 * for model 'Tag' does not match any query"), so there is nothing to cache
 * around; Postgres and SQLite run them.
 */
const andReturn = (kind: WriteKind): WriteKind[] => (provider() === "mysql" ? [] : [kind]);

/**
 * Each write kind, run through the cached client, must make the cached reads
 * of the models it changed stale: the next read returns the new data.
 */
const writes: WriteKind[] = [
  {
    name: "create",
    read: (p) => p.tag.count(),
    write: (p) => p.tag.create({ data: { name: `t-${Math.random()}` } }),
  },
  {
    name: "createMany",
    read: (p) => p.tag.count(),
    write: (p) => p.tag.createMany({ data: [{ name: `a-${Math.random()}` }, { name: `b-${Math.random()}` }] }),
  },
  ...andReturn({
    name: "createManyAndReturn",
    read: (p) => p.tag.count(),
    write: (p) => p.tag.createManyAndReturn({ data: [{ name: `c-${Math.random()}` }] }),
  }),
  {
    name: "update",
    read: (p) => p.post.findUnique({ where: { id: t.ids.posts.hello } }),
    write: (p) => p.post.update({ where: { id: t.ids.posts.hello }, data: { views: { increment: 1 } } }),
  },
  {
    name: "updateMany",
    read: (p) => p.post.aggregate({ _sum: { views: true } }),
    write: (p) => p.post.updateMany({ where: {}, data: { views: { increment: 1 } } }),
  },
  ...andReturn({
    name: "updateManyAndReturn",
    read: (p) => p.post.findMany({ orderBy: { id: "asc" } }),
    write: (p) => p.post.updateManyAndReturn({ where: { id: t.ids.posts.draft }, data: { title: `draft ${Math.random()}` } }),
  }),
  {
    name: "upsert (update branch)",
    read: (p) => p.membership.findMany({ orderBy: [{ userId: "asc" }, { groupId: "asc" }] }),
    write: (p) =>
      p.membership.upsert({
        where: { userId_groupId: { userId: t.ids.users.alice, groupId: t.ids.groups.admins } },
        update: { role: `role-${Math.random()}` },
        create: { userId: t.ids.users.alice, groupId: t.ids.groups.admins, role: "new" },
      }),
  },
  {
    name: "upsert (create branch)",
    read: (p) => p.group.count(),
    write: (p) => p.group.upsert({ where: { name: `g-${Math.random()}` }, update: {}, create: { name: `g-${Math.random()}` } }),
  },
  {
    name: "delete",
    read: (p) => p.comment.count(),
    write: async (p) => {
      const c = await p.comment.create({ data: { body: "tmp", postId: t.ids.posts.hello } });
      await p.comment.count(); // cache the count that includes it
      return p.comment.delete({ where: { id: c.id } });
    },
  },
  {
    name: "deleteMany",
    read: (p) => p.tag.count({ where: { name: { startsWith: "t-" } } }),
    write: (p) => p.tag.deleteMany({ where: { name: { startsWith: "t-" } } }),
  },
  {
    name: "nested create through a relation",
    read: (p) => p.comment.count({ where: { postId: t.ids.posts.hello } }),
    write: (p) => p.post.update({ where: { id: t.ids.posts.hello }, data: { comments: { create: { body: "nested" } } } }),
  },
  {
    name: "implicit m-n connect",
    read: (p) => p.tag.findUnique({ where: { id: t.ids.tags.life }, include: { posts: { orderBy: { id: "asc" } } } }),
    write: (p) => p.post.update({ where: { id: t.ids.posts.draft }, data: { tags: { connect: { id: t.ids.tags.life } } } }),
  },
  {
    name: "cascade delete (Profile onDelete: Cascade)",
    read: (p) => p.profile.count(),
    write: async (p) => {
      const u = await p.user.create({ data: { email: `c-${Math.random()}@x`, profile: { create: { bio: "b" } } } });
      await p.profile.count();
      return p.user.delete({ where: { id: u.id } });
    },
  },
  {
    name: "set null on delete (Post.author onDelete: SetNull)",
    read: (p) => p.post.count({ where: { authorId: null } }),
    write: async (p) => {
      const u = await p.user.create({ data: { email: `s-${Math.random()}@x`, posts: { create: { title: "orphan-to-be" } } } });
      await p.post.count({ where: { authorId: null } });
      return p.user.delete({ where: { id: u.id } });
    },
  },
  {
    name: "update of a referenced id (Comment.post onUpdate: Cascade)",
    read: (p) => p.comment.findMany({ where: { body: "follows its post" }, orderBy: { id: "asc" } }),
    write: async (p) => {
      const post = await p.post.create({ data: { title: `moving ${Math.random()}`, comments: { create: { body: "follows its post" } } } });
      await p.comment.findMany({ where: { body: "follows its post" }, orderBy: { id: "asc" } }); // cache the list with the old postId
      return p.post.update({ where: { id: post.id }, data: { id: post.id + 1_000_000 } });
    },
  },
  // Referential actions of nested writes: a nested delete, and a nested update of a referenced field.
  {
    name: "nested delete with onDelete Cascade (a user's post takes its comments)",
    read: (p) => p.comment.count({ where: { body: "goes with its post" } }),
    write: async (p) => {
      const u = await p.user.create({
        data: { email: `n-${Math.random()}@x`, posts: { create: { title: "nested-doomed", comments: { create: { body: "goes with its post" } } } } },
        include: { posts: true },
      });
      await p.comment.count({ where: { body: "goes with its post" } });
      return p.user.update({ where: { id: u.id }, data: { posts: { delete: { id: u.posts[0]!.id } } } });
    },
  },
  {
    name: "nested update of a referenced id (a user's post moves, its comments follow)",
    read: (p) => p.comment.findMany({ where: { body: "follows its nested post" }, orderBy: { id: "asc" } }),
    write: async (p) => {
      const u = await p.user.create({
        data: { email: `m-${Math.random()}@x`, posts: { create: { title: "nested-moving", comments: { create: { body: "follows its nested post" } } } } },
        include: { posts: true },
      });
      const id = u.posts[0]!.id;
      await p.comment.findMany({ where: { body: "follows its nested post" }, orderBy: { id: "asc" } });
      return p.user.update({ where: { id: u.id }, data: { posts: { update: { where: { id }, data: { id: id + 1_000_000 } } } } });
    },
  },
  {
    name: "$executeRaw",
    read: (p) => p.post.findUnique({ where: { id: t.ids.posts.orphan } }),
    write: (p) => p.$executeRaw`UPDATE ${sqlIdent("Post")} SET ${sqlIdent("views")} = ${sqlIdent("views")} + 1 WHERE ${sqlIdent("id")} = ${t.ids.posts.orphan}`,
  },
  {
    name: "$executeRawUnsafe",
    read: (p) => p.comment.findMany({ orderBy: { id: "asc" } }),
    write: (p) =>
      p.$executeRawUnsafe(byProvider({ postgresql: "UPDATE comments SET body = body || '!'", mysql: "UPDATE comments SET body = CONCAT(body, '!')" })),
  },
];

describe.each([
  ["L1 only", () => ({})],
  ["L1 + Redis", () => ({ redis: redis() })],
  ["Redis only", () => ({ redis: redis(), l1: false as const })],
])("model-level invalidation (%s)", (_name, options) => {
  it.each(writes)("$name makes cached reads of the changed model stale", async ({ read, write }) => {
    const { prisma, base } = cached(options());
    // Read the same query through a plain client for the truth.
    const truth = (p: Client) => read(p);
    await read(prisma);
    const cachedBefore = await read(prisma);
    expect(prisma.$cache.stats().hits.l1 + prisma.$cache.stats().hits.l2).toBeGreaterThanOrEqual(1);
    await write(prisma);
    const after = await read(prisma);
    expect(after).toEqual(await truth(base as unknown as Client));
    expect(cachedBefore).not.toBeUndefined();
  });
});

describe("transactions", () => {
  it("an interactive transaction's writes are visible to cached reads after commit", async () => {
    const { prisma, base } = cached({ redis: redis() });
    await prisma.user.findUnique({ where: { id: t.ids.users.carol } });
    await prisma.$transaction(async (tx) => {
      await tx.user.update({ where: { id: t.ids.users.carol }, data: { name: "Carol in tx" } });
    });
    expect((await prisma.user.findUnique({ where: { id: t.ids.users.carol } }))?.name).toBe("Carol in tx");
    expect((await base.user.findUnique({ where: { id: t.ids.users.carol } }))?.name).toBe("Carol in tx");
  });

  it("a reader that fills during an open transaction cannot keep the pre-commit value", async () => {
    const ns = uniqueNamespace();
    const writer = cached({ redis: redis() }, ns);
    const reader = cached({ redis: redis() }, ns);
    await reader.prisma.user.findUnique({ where: { id: t.ids.users.bob } });
    await writer.prisma.$transaction(async (tx) => {
      await tx.user.update({ where: { id: t.ids.users.bob }, data: { name: "Bob v2" } });
      // Another process reads and fills while the transaction is open: it sees the committed (old) row.
      const during = await reader.prisma.user.findUnique({ where: { id: t.ids.users.bob }, cache: { ttl: 60 } });
      expect(during?.name).not.toBe("Bob v2");
    });
    // The reader's own L1 may lag until the bus delivers (next issue); Redis must not serve the old row.
    const fresh = cached({ redis: redis(), l1: false }, ns);
    expect((await fresh.prisma.user.findUnique({ where: { id: t.ids.users.bob } }))?.name).toBe("Bob v2");
  });

  it("a rolled back transaction leaves the cache correct", async () => {
    const { prisma } = cached({ redis: redis() });
    const before = await prisma.post.findUnique({ where: { id: t.ids.posts.hello } });
    await expect(
      prisma.$transaction(async (tx) => {
        await tx.post.update({ where: { id: t.ids.posts.hello }, data: { title: "never committed" } });
        throw new Error("roll back");
      }),
    ).rejects.toThrow("roll back");
    expect(await prisma.post.findUnique({ where: { id: t.ids.posts.hello } })).toEqual(before);
  });

  it("batch $transaction writes invalidate after commit", async () => {
    const { prisma } = cached({ redis: redis() });
    await prisma.tag.findMany({ orderBy: { id: "asc" } });
    const name = `batch-${Math.random()}`;
    await prisma.$transaction([prisma.tag.create({ data: { name } }), prisma.tag.count()]);
    const after = await prisma.tag.findMany({ orderBy: { id: "asc" } });
    expect(after.map((t) => t.name)).toContain(name);
  });
});

describe("writes through Prisma's fluent API", () => {
  it("update(...).author() and its chain resolve as Prisma's do, and invalidate the written row", async () => {
    const { prisma } = cached({ redis: redis() });
    const plain = t.plain().prisma;
    const id = t.ids.posts.hello;
    await prisma.post.findUnique({ where: { id } });
    const title = `fluent ${Math.random()}`;
    const author = await prisma.post.update({ where: { id }, data: { title } }).author();
    expect(author).toEqual(await plain.post.findUnique({ where: { id } }).author());
    expect((await prisma.post.findUnique({ where: { id } }))?.title).toBe(title);

    const again = `fluent chain ${Math.random()}`;
    const posts = await prisma.post
      .update({ where: { id }, data: { title: again } })
      .author()
      .posts({ orderBy: { id: "asc" } });
    expect(posts).toEqual(
      await plain.post
        .findUnique({ where: { id } })
        .author()
        .posts({ orderBy: { id: "asc" } }),
    );
    expect(posts?.find((p) => p.id === id)?.title).toBe(again);
    expect((await prisma.post.findUnique({ where: { id } }))?.title).toBe(again);
  });

  it("in a batch $transaction, resolve to the relation and invalidate after the commit", async () => {
    const { prisma } = cached({ redis: redis() });
    const id = t.ids.posts.hello;
    await prisma.post.findUnique({ where: { id } });
    const title = `fluent batch ${Math.random()}`;
    const [author, n] = await prisma.$transaction([prisma.post.update({ where: { id }, data: { title } }).author(), prisma.post.count()]);
    expect(author).toEqual(await t.plain().prisma.post.findUnique({ where: { id } }).author());
    expect(n).toBeGreaterThan(0);
    expect((await prisma.post.findUnique({ where: { id } }))?.title).toBe(title);
  });

  it("on a write-through model, do not store the relation as the written row's entry", async () => {
    const ns = uniqueNamespace();
    const { prisma } = cached({ redis: redis(), models: { Post: { invalidation: "write-through" as const } } }, ns);
    const id = t.ids.posts.hello;
    await prisma.post.findUnique({ where: { id } });
    const title = `fluent write-through ${Math.random()}`;
    await prisma.post.update({ where: { id }, data: { title } }).author();
    const row = await prisma.post.findUnique({ where: { id } });
    expect(row).toEqual(await t.plain().prisma.post.findUnique({ where: { id } }));
    expect(row?.title).toBe(title);
  });
});

describe("precision and the client API", () => {
  it("a write to one model leaves cached reads of unrelated models as hits", async () => {
    const { prisma, counter } = cached();
    await prisma.sample.findMany();
    await prisma.group.findMany();
    counter.reset();
    await prisma.tag.create({ data: { name: `p-${Math.random()}` } });
    await prisma.sample.findMany();
    await prisma.group.findMany();
    expect(selects(counter)).toBe(0);
  });

  it("$cache.invalidate({ models }) and ({ tags }) and invalidateAll() make entries stale", async () => {
    const { prisma, counter } = cached({ models: { Post: { tags: ["feed"] } } });
    await prisma.post.findMany();
    await prisma.user.findMany({ cache: { ttl: 30, tags: ["people"] } });
    await prisma.sample.findMany();
    counter.reset();
    await prisma.$cache.invalidate({ tags: ["feed"] });
    await prisma.post.findMany();
    await prisma.user.findMany({ cache: { ttl: 30, tags: ["people"] } });
    expect(selects(counter)).toBe(1);
    await prisma.$cache.invalidate({ tags: ["people"] });
    await prisma.user.findMany({ cache: { ttl: 30, tags: ["people"] } });
    expect(selects(counter)).toBe(2);
    await prisma.$cache.invalidate({ models: ["Sample"] });
    await prisma.sample.findMany();
    expect(selects(counter)).toBe(3);
    await prisma.$cache.invalidateAll();
    await prisma.post.findMany();
    await prisma.sample.findMany();
    expect(selects(counter)).toBe(5);
    await expect(prisma.$cache.invalidate({ models: ["Nope"] })).rejects.toThrow(/unknown model "Nope"/);
  });

  it("a write in one process makes the other process's Redis entry stale", async () => {
    const ns = uniqueNamespace();
    const a = cached({ redis: redis() }, ns);
    const b = cached({ redis: redis(), l1: false }, ns);
    await b.prisma.post.findUnique({ where: { id: t.ids.posts.draft } });
    await a.prisma.post.update({ where: { id: t.ids.posts.draft }, data: { content: "from process A" } });
    expect((await b.prisma.post.findUnique({ where: { id: t.ids.posts.draft } }))?.content).toBe("from process A");
  });

  it("model tags are bumped by writes to the model", async () => {
    const { prisma, counter } = cached({ models: { Tag: { tags: ["taxonomy"] } } });
    await prisma.post.findMany({ cache: { ttl: 30, tags: ["taxonomy"] } });
    counter.reset();
    await prisma.tag.create({ data: { name: `tx-${Math.random()}` } });
    await prisma.post.findMany({ cache: { ttl: 30, tags: ["taxonomy"] } });
    expect(selects(counter)).toBe(1);
  });
});

describe("cached raw reads", () => {
  it("$queryRawCached caches by SQL and values, and declared models invalidate it", async () => {
    const { prisma, counter } = cached({ redis: redis() });
    const { Prisma } = await import("../../generated/prisma/client");
    const q = (min: number) =>
      prisma.$queryRawCached<{ n: bigint }[]>(Prisma.sql`SELECT count(*) AS n FROM ${sqlIdent("Post")} WHERE views >= ${min}`, { models: ["Post"] });
    const first = await q(0);
    counter.reset();
    expect(await q(0)).toEqual(first);
    expect(selects(counter)).toBe(0);
    await q(1_000_000);
    expect(selects(counter)).toBe(1);
    await prisma.post.create({ data: { title: "raw-visible" } });
    const after = await q(0);
    expect(after[0]!.n).toBe(first[0]!.n + 1n);
    // Unrelated writes leave it cached.
    counter.reset();
    await prisma.tag.create({ data: { name: `raw-${Math.random()}` } });
    await q(0);
    expect(selects(counter)).toBe(0);
    // Tags, and bad input named clearly.
    await prisma.$queryRawCached(Prisma.sql`SELECT 1 AS one`, { tags: ["raw-tag"] });
    await prisma.$cache.invalidate({ tags: ["raw-tag"] });
    counter.reset();
    await prisma.$queryRawCached(Prisma.sql`SELECT 1 AS one`, { tags: ["raw-tag"] });
    expect(selects(counter)).toBe(1);
    await expect(prisma.$queryRawCached(Prisma.sql`SELECT 1`, { models: ["Nope"] })).rejects.toThrow(/unknown model "Nope"/);
    await expect(prisma.$queryRawCached(Prisma.sql`SELECT 1`, { ttl: -5 })).rejects.toThrow(/ttl/);
    // Inside an interactive transaction it runs uncached.
    await prisma.$transaction(async (tx) => {
      counter.reset();
      await tx.$queryRawCached(Prisma.sql`SELECT 1 AS one`, { tags: ["raw-tag"] });
      expect(counter.log.filter((l) => l.inTransaction && /select 1/i.test(l.sql)).length).toBe(1);
    });
  });
});

describe("write-through", () => {
  it("stores a create/update/upsert result as the find-by-id entry, in both tiers", async () => {
    const ns = uniqueNamespace();
    const options = { models: { User: { invalidation: "write-through" as const } } };
    const a = cached({ redis: redis(), ...options }, ns);
    const b = cached({ redis: redis(), l1: false, ...options }, ns);
    const id = t.ids.users.carol;
    await a.prisma.user.findUnique({ where: { id } });
    await a.prisma.user.findMany({ orderBy: { id: "asc" } });
    const updated = await a.prisma.user.update({ where: { id }, data: { name: `WT ${Math.random()}` } });
    a.counter.reset();
    b.counter.reset();
    expect(await a.prisma.user.findUnique({ where: { id } })).toEqual(updated);
    expect(await b.prisma.user.findUnique({ where: { id } })).toEqual(updated);
    expect(selects(a.counter) + selects(b.counter)).toBe(0);
    // Everything else is invalidated as usual.
    const list = await a.prisma.user.findMany({ orderBy: { id: "asc" } });
    expect(selects(a.counter)).toBe(1);
    expect(list.find((u) => u.id === id)?.name).toBe(updated.name);

    const created = await a.prisma.user.create({ data: { email: `wt-${Math.random()}@example.com` } });
    const upserted = await a.prisma.user.upsert({ where: { id: created.id }, update: { name: "upserted" }, create: { email: "never@example.com" } });
    a.counter.reset();
    b.counter.reset();
    expect(await b.prisma.user.findUnique({ where: { id: created.id } })).toEqual(upserted);
    expect(await a.prisma.user.findUnique({ where: { id: created.id } })).toEqual(upserted);
    expect(selects(a.counter) + selects(b.counter)).toBe(0);

    // A write whose result has another shape (select) only invalidates.
    await a.prisma.user.update({ where: { id }, data: { name: "selected" }, select: { id: true } });
    a.counter.reset();
    expect((await a.prisma.user.findUnique({ where: { id } }))?.name).toBe("selected");
    expect(selects(a.counter)).toBe(1);
  });

  it("a later write from another process wins over a write-through", async () => {
    const ns = uniqueNamespace();
    const options = { redis: redis(), l1: false as const, models: { Post: { invalidation: "write-through" as const } } };
    const a = cached(options, ns);
    const b = cached({ ...options, redis: redis() }, ns);
    const id = t.ids.posts.orphan;
    await a.prisma.post.update({ where: { id }, data: { title: "first" } });
    await b.prisma.post.update({ where: { id }, data: { title: "second" } });
    expect((await a.prisma.post.findUnique({ where: { id } }))?.title).toBe("second");
    expect((await b.prisma.post.findUnique({ where: { id } }))?.title).toBe("second");
  });
});

describe("dependsOn", () => {
  it("a model's reads go stale on writes to the models it depends on, and only then", async () => {
    const { prisma, counter } = cached({ models: { Sample: { dependsOn: ["Group"] } } });
    await prisma.sample.findMany({ orderBy: { id: "asc" } });
    await prisma.sample.findUnique({ where: { id: t.ids.samples.alpha } });
    counter.reset();
    await prisma.tag.create({ data: { name: `dep-${Math.random()}` } });
    await prisma.sample.findMany({ orderBy: { id: "asc" } });
    await prisma.sample.findUnique({ where: { id: t.ids.samples.alpha } });
    expect(selects(counter)).toBe(0);
    await prisma.group.update({ where: { id: t.ids.groups.admins }, data: { name: "admins" } });
    await prisma.sample.findMany({ orderBy: { id: "asc" } });
    await prisma.sample.findUnique({ where: { id: t.ids.samples.alpha } });
    expect(selects(counter)).toBe(2);
  });
});

describe("per-query tags", () => {
  it("the same query under other tags is its own entry, invalidated by its own tags", async () => {
    const { prisma, counter } = cached();
    await prisma.tag.findMany({ cache: { ttl: 60, tags: ["a"] } });
    await prisma.tag.findMany({ cache: { ttl: 60, tags: ["b"] } });
    expect(selects(counter)).toBe(2);
    await prisma.$cache.invalidate({ tags: ["b"] });
    counter.reset();
    await prisma.tag.findMany({ cache: { ttl: 60, tags: ["a"] } });
    expect(selects(counter)).toBe(0);
    await prisma.tag.findMany({ cache: { ttl: 60, tags: ["b"] } });
    expect(selects(counter)).toBe(1);
  });
});

describe("nested interactive transactions", () => {
  it("writes in a nested transaction are bumped when the outermost one commits", async () => {
    const ns = uniqueNamespace();
    const { prisma } = cached({ redis: redis() }, ns);
    const reader = cached({ redis: redis(), l1: false }, ns);
    const id = t.ids.posts.orphan;
    const title = `nested tx ${Math.random()}`;
    await prisma.$transaction(async (tx) => {
      const inner = tx as unknown as { $transaction: (fn: (tx2: typeof tx) => Promise<unknown>) => Promise<unknown> };
      await inner.$transaction((tx2) => tx2.post.update({ where: { id }, data: { title } }));
      // Another process fills the entry with the committed (old) row while the outer transaction is open.
      expect((await reader.prisma.post.findUnique({ where: { id } }))?.title).not.toBe(title);
    });
    expect((await reader.prisma.post.findUnique({ where: { id } }))?.title).toBe(title);
    expect((await prisma.post.findUnique({ where: { id } }))?.title).toBe(title);
  });
});

describe("relation counts", () => {
  it("a cached _count of a relation goes stale when the related rows change", async () => {
    const { prisma } = cached({ redis: redis() });
    const id = t.ids.users.carol;
    const read = () => prisma.user.findUnique({ where: { id }, include: { _count: { select: { posts: true } } } });
    const before = (await read())!._count.posts;
    await read();
    await prisma.post.create({ data: { title: `counted ${Math.random()}`, authorId: id } });
    expect((await read())!._count.posts).toBe(before + 1);
  });
});
