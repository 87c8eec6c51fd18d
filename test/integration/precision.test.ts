/**
 * Table-driven invalidation suite on real Postgres and Redis. For each write
 * kind, every read shape must return the data after the write (checked
 * against a plain client), the reads the write changed must change, and the
 * reads it cannot have changed must still be cache hits (precision).
 */
import { describe, expect, it, onTestFinished } from "vitest";
import { byProvider, mentionsTable, type SeedIds, sqlIdent } from "../support/db";
import { selects, useSeededDatabase } from "../support/harness";

const t = useSeededDatabase();
type Client = ReturnType<typeof t.cached>["prisma"];
type Base = ReturnType<typeof t.plain>["prisma"];

/** Read shapes, by name. Each runs the same way on the cached and the plain client. */
const reads = (ids: SeedIds) => ({
  "user by id (alice)": (p: Client) => p.user.findUnique({ where: { id: ids.users.alice } }),
  "user by id (bob)": (p: Client) => p.user.findUnique({ where: { id: ids.users.bob } }),
  "user by email (bob)": (p: Client) => p.user.findUnique({ where: { email: "bob@example.com" } }),
  "user by email (not there yet)": (p: Client) => p.user.findUnique({ where: { email: "newcomer@example.com" } }),
  "user include posts (alice)": (p: Client) => p.user.findUnique({ where: { id: ids.users.alice }, include: { posts: { orderBy: { id: "asc" } } } }),
  "users list": (p: Client) => p.user.findMany({ orderBy: { id: "asc" } }),
  "user count": (p: Client) => p.user.count(),
  "post by id (hello)": (p: Client) => p.post.findUnique({ where: { id: ids.posts.hello } }),
  "post by id (draft)": (p: Client) => p.post.findUnique({ where: { id: ids.posts.draft } }),
  "post include comments (hello)": (p: Client) => p.post.findUnique({ where: { id: ids.posts.hello }, include: { comments: { orderBy: { id: "asc" } } } }),
  "posts tagged life (relation filter)": (p: Client) => p.post.findMany({ where: { tags: { some: { name: "life" } } }, orderBy: { id: "asc" } }),
  "posts by alice's email (relation filter on the key's holder)": (p: Client) =>
    p.post.findMany({ where: { author: { is: { email: "alice@example.com" } } }, orderBy: { id: "asc" } }),
  "posts without author (count)": (p: Client) => p.post.count({ where: { authorId: null } }),
  "post views (aggregate)": (p: Client) => p.post.aggregate({ _sum: { views: true } }),
  "posts by published (groupBy)": (p: Client) => p.post.groupBy({ by: ["published"], _count: { _all: true }, orderBy: { published: "asc" } }),
  "tag include posts (life)": (p: Client) => p.tag.findUnique({ where: { id: ids.tags.life }, include: { posts: { orderBy: { id: "asc" } } } }),
  "tag by id (news)": (p: Client) => p.tag.findUnique({ where: { id: ids.tags.news } }),
  "sample by compound unique (alpha)": (p: Client) => p.sample.findUnique({ where: { tenant_slug: { tenant: "acme", slug: "alpha" } } }),
  "sample by compound unique (beta)": (p: Client) => p.sample.findUnique({ where: { tenant_slug: { tenant: "acme", slug: "beta" } } }),
  "membership by compound id": (p: Client) => p.membership.findUnique({ where: { userId_groupId: { userId: ids.users.alice, groupId: ids.groups.writers } } }),
  "group by id (writers)": (p: Client) => p.group.findUnique({ where: { id: ids.groups.writers } }),
  "comment count": (p: Client) => p.comment.count(),
  "comments list": (p: Client) => p.comment.findMany({ orderBy: { id: "asc" } }),
  "profile count": (p: Client) => p.profile.count(),
  "profiles list": (p: Client) => p.profile.findMany({ orderBy: { id: "asc" } }),
  "group include memberships (writers)": (p: Client) =>
    p.group.findUnique({ where: { id: ids.groups.writers }, include: { memberships: { orderBy: [{ userId: "asc" }, { groupId: "asc" }] } } }),
  "posts of alice": (p: Client) => p.post.findMany({ where: { authorId: ids.users.alice }, orderBy: { id: "asc" } }),
  "posts of bob": (p: Client) => p.post.findMany({ where: { authorId: ids.users.bob }, orderBy: { id: "asc" } }),
  "posts of alice (count)": (p: Client) => p.post.count({ where: { authorId: ids.users.alice } }),
  "published posts": (p: Client) => p.post.findMany({ where: { published: true }, orderBy: { id: "asc" } }),
  "posts with their authors": (p: Client) => p.post.findMany({ include: { author: true }, orderBy: { id: "asc" } }),
  "post with author (hello)": (p: Client) => p.post.findUnique({ where: { id: ids.posts.hello }, include: { author: true } }),
  "post with author (draft)": (p: Client) => p.post.findUnique({ where: { id: ids.posts.draft }, include: { author: true } }),
  "post include tags (hello)": (p: Client) => p.post.findUnique({ where: { id: ids.posts.hello }, include: { tags: { orderBy: { id: "asc" } } } }),
  "post include tags (draft)": (p: Client) => p.post.findUnique({ where: { id: ids.posts.draft }, include: { tags: { orderBy: { id: "asc" } } } }),
  "tag include posts (news)": (p: Client) => p.tag.findUnique({ where: { id: ids.tags.news }, include: { posts: { orderBy: { id: "asc" } } } }),
  "comments of draft": (p: Client) => p.comment.findMany({ where: { postId: ids.posts.draft }, orderBy: { id: "asc" } }),
  "user include posts (bob)": (p: Client) => p.user.findUnique({ where: { id: ids.users.bob }, include: { posts: { orderBy: { id: "asc" } } } }),
  "alice with her post count": (p: Client) => p.user.findUnique({ where: { id: ids.users.alice }, include: { _count: { select: { posts: true } } } }),
  "bob with his post count": (p: Client) => p.user.findUnique({ where: { id: ids.users.bob }, include: { _count: { select: { posts: true } } } }),
  "user names (a select without the id)": (p: Client) => p.user.findMany({ select: { name: true, email: true }, orderBy: { email: "asc" } }),
  "hello with its author's name (selects without ids)": (p: Client) =>
    p.post.findUnique({ where: { id: ids.posts.hello }, select: { title: true, author: { select: { name: true } } } }),
  "draft with its author's name (selects without ids)": (p: Client) =>
    p.post.findUnique({ where: { id: ids.posts.draft }, select: { title: true, author: { select: { name: true } } } }),
  "users with posts and their comments": (p: Client) =>
    p.user.findMany({
      orderBy: { id: "asc" },
      select: { id: true, name: true, posts: { orderBy: { id: "asc" }, select: { id: true, comments: { orderBy: { id: "asc" } } } } },
    }),
});
type ReadName = keyof ReturnType<typeof reads>;

interface Scenario {
  name: string;
  /** Prepares rows the write needs (plain client); returns anything the write uses. */
  setup?: (base: Base) => Promise<Record<string, number>>;
  write: (p: Client, ctx: Record<string, number>) => Promise<unknown>;
  /** Reads whose result the write changes. */
  changed: ReadName[];
  /** Reads the write cannot have changed: they must stay cache hits. */
  hits: ReadName[];
}

const unique = () => Math.random().toString(36).slice(2, 8);

const scenarios = (ids: SeedIds): Scenario[] => [
  {
    name: "update by id",
    write: (p) => p.user.update({ where: { id: ids.users.alice }, data: { name: `Alice ${unique()}` } }),
    changed: ["user by id (alice)", "user include posts (alice)", "users list"],
    hits: ["user by id (bob)", "user by email (bob)", "post by id (hello)", "tag by id (news)", "sample by compound unique (alpha)"],
  },
  {
    name: "update of a field no selection reads (a title)",
    // The draft stays out of the published posts and the news tag (other scenarios put it there).
    setup: async (b) => ({
      n: (await b.post.update({ where: { id: ids.posts.draft }, data: { published: false, tags: { disconnect: { id: ids.tags.news } } } })).id,
    }),
    write: (p) => p.post.update({ where: { id: ids.posts.draft }, data: { title: `Draft ${unique()}` } }),
    changed: [
      "post by id (draft)",
      "posts of bob",
      "post with author (draft)",
      "post include tags (draft)",
      "user include posts (bob)",
      "posts with their authors",
    ],
    hits: [
      "posts of alice",
      "published posts",
      "post by id (hello)",
      "post with author (hello)",
      "post include tags (hello)",
      "tag include posts (news)",
      "comments of draft",
      "user include posts (alice)",
      "alice with her post count",
      "bob with his post count",
      "posts of alice (count)",
    ],
  },
  {
    name: "update of a field a selection reads (publishing the draft)",
    setup: async (b) => ({ n: (await b.post.update({ where: { id: ids.posts.draft }, data: { published: false } })).id }),
    write: (p) => p.post.update({ where: { id: ids.posts.draft }, data: { published: true } }),
    changed: ["published posts", "post by id (draft)", "posts of bob", "post by id (draft)", "user include posts (bob)"],
    hits: ["posts of alice", "post include tags (hello)", "comments of draft", "user by id (bob)", "alice with her post count", "bob with his post count"],
  },
  {
    name: "update of an included row (a user's name)",
    write: (p) => p.user.update({ where: { id: ids.users.bob }, data: { name: `Bob ${unique()}` } }),
    changed: [
      "user by id (bob)",
      "post with author (draft)",
      "posts with their authors",
      "users list",
      "users with posts and their comments",
      "user names (a select without the id)",
      "draft with its author's name (selects without ids)",
    ],
    hits: [
      "hello with its author's name (selects without ids)",
      "post with author (hello)",
      "posts of alice",
      "posts of bob",
      "published posts",
      "post include tags (draft)",
      "user include posts (alice)",
      "user by id (alice)",
    ],
  },
  {
    name: "create of a row selected by its foreign key (a post by alice)",
    write: (p) => p.post.create({ data: { title: `New ${unique()}`, authorId: ids.users.alice } }),
    changed: ["posts of alice", "user include posts (alice)", "alice with her post count", "posts of alice (count)", "posts with their authors"],
    hits: [
      "posts of bob",
      "user include posts (bob)",
      "bob with his post count",
      "post by id (hello)",
      "post with author (hello)",
      "user by id (alice)",
      "comments of draft",
      "post include tags (hello)",
    ],
  },
  {
    name: "create that connects its relations (a comment on a post)",
    write: (p) => p.comment.create({ data: { body: `c ${unique()}`, post: { connect: { id: ids.posts.hello } } } }),
    changed: ["post include comments (hello)", "comment count", "comments list"],
    hits: ["comments of draft", "post by id (hello)", "post include tags (hello)", "post with author (hello)", "user by id (alice)", "posts of alice"],
  },
  {
    name: "a link change of an implicit m-n (a tag connected to a post)",
    setup: async (b) => {
      await b.post.update({ where: { id: ids.posts.draft }, data: { tags: { disconnect: { id: ids.tags.news } } } });
      return {};
    },
    write: (p) => p.post.update({ where: { id: ids.posts.draft }, data: { tags: { connect: { id: ids.tags.news } } } }),
    changed: ["post include tags (draft)", "tag include posts (news)"],
    hits: [
      "post by id (draft)",
      "post by id (hello)",
      "post include tags (hello)",
      "tag include posts (life)",
      "tag by id (news)",
      "user include posts (bob)",
      "posts of bob",
    ],
  },
  {
    name: "a link change that moves a foreign key (a post given to another author)",
    setup: async (b) => {
      const post = await b.post.create({ data: { title: `moving ${unique()}`, authorId: ids.users.bob } });
      return { post: post.id };
    },
    write: (p, ctx) => p.post.update({ where: { id: ctx.post! }, data: { author: { connect: { id: ids.users.alice } } } }),
    changed: [
      "posts of alice",
      "posts of bob",
      "user include posts (alice)",
      "user include posts (bob)",
      "alice with her post count",
      "bob with his post count",
    ],
    hits: ["user by id (alice)", "user by id (bob)", "post with author (hello)", "post include tags (draft)", "comments of draft", "post by id (hello)"],
  },
  {
    name: "a link removed (a post's author disconnected)",
    setup: async (b) => {
      const post = await b.post.create({ data: { title: `leaving ${unique()}`, authorId: ids.users.bob } });
      return { post: post.id };
    },
    write: (p, ctx) => p.post.update({ where: { id: ctx.post! }, data: { author: { disconnect: true } } }),
    changed: ["posts of bob", "user include posts (bob)", "bob with his post count", "posts without author (count)"],
    // Counts hold no rows: a foreign key that moves from a value not known makes every count by that key stale.
    hits: ["user by id (bob)", "posts of alice", "user include posts (alice)", "post with author (draft)"],
  },
  {
    name: "update by a non-id unique key",
    write: (p) => p.user.update({ where: { email: "bob@example.com" }, data: { name: `Bob ${unique()}` } }),
    changed: ["user by id (bob)", "user by email (bob)", "users list"],
    hits: ["user by id (alice)", "post by id (hello)"],
  },
  {
    name: "update by compound unique",
    write: (p) => p.sample.update({ where: { tenant_slug: { tenant: "acme", slug: "beta" } }, data: { note: unique() } }),
    changed: ["sample by compound unique (beta)"],
    hits: ["sample by compound unique (alpha)", "user by id (alice)", "post by id (hello)"],
  },
  {
    name: "create",
    write: (p) => p.user.create({ data: { email: `${unique()}@example.com` } }),
    changed: ["users list", "user count"],
    hits: ["user by id (alice)", "user by id (bob)", "user by email (bob)", "post by id (hello)", "tag by id (news)"],
  },
  {
    name: "create makes a cached 'not found' stale",
    setup: async (b) => ({ removed: (await b.user.deleteMany({ where: { email: "newcomer@example.com" } })).count }),
    write: (p) => p.user.create({ data: { email: "newcomer@example.com" } }),
    changed: ["user by email (not there yet)", "user count"],
    hits: ["user by id (alice)", "user by email (bob)", "post by id (hello)"],
  },
  {
    // New rows whose ids createMany does not return: every Tag row read goes stale (by design), other models stay.
    name: "createMany",
    write: (p) => p.tag.createMany({ data: [{ name: `a-${unique()}` }, { name: `b-${unique()}` }] }),
    changed: [],
    hits: ["user by id (alice)", "post by id (hello)", "sample by compound unique (alpha)"],
  },
  {
    name: "delete",
    setup: async (b) => ({ comment: (await b.comment.create({ data: { body: "temp", postId: ids.posts.hello } })).id }),
    write: (p, ctx) => p.comment.delete({ where: { id: ctx.comment! } }),
    changed: ["comment count", "post include comments (hello)"],
    hits: ["post by id (hello)", "post by id (draft)", "user by id (alice)", "tag by id (news)"],
  },
  {
    name: "deleteMany",
    setup: async (b) => ({
      n: (
        await b.comment.createMany({
          data: [
            { body: "bulk-temp", postId: ids.posts.draft },
            { body: "bulk-temp", postId: ids.posts.draft },
          ],
        })
      ).count,
    }),
    write: (p) => p.comment.deleteMany({ where: { body: "bulk-temp" } }),
    changed: ["comment count"],
    hits: ["post by id (hello)", "post by id (draft)", "user by id (alice)"],
  },
  {
    name: "updateMany (rows unknown: the whole model)",
    write: (p) => p.post.updateMany({ where: { published: true }, data: { views: { increment: 1 } } }),
    changed: ["post by id (hello)", "post views (aggregate)", "user include posts (alice)"],
    hits: ["user by id (alice)", "user by email (bob)", "tag by id (news)", "sample by compound unique (alpha)"],
  },
  {
    name: "upsert by compound id",
    write: (p) =>
      p.membership.upsert({
        where: { userId_groupId: { userId: ids.users.alice, groupId: ids.groups.writers } },
        update: { role: unique() },
        create: { userId: ids.users.alice, groupId: ids.groups.writers },
      }),
    changed: ["membership by compound id"],
    hits: ["user by id (alice)", "group by id (writers)", "post by id (hello)"],
  },
  {
    name: "nested create",
    write: (p) => p.post.update({ where: { id: ids.posts.hello }, data: { comments: { create: { body: `nested ${unique()}` } } } }),
    changed: ["post include comments (hello)", "comment count"],
    hits: ["post by id (draft)", "user by id (alice)", "tag by id (news)"],
  },
  {
    name: "an update of a row's other fields: relation-filtered lists it is not in stay cached",
    setup: async (b) => ({ post: (await b.post.create({ data: { title: `untagged ${unique()}`, authorId: ids.users.carol } })).id }),
    write: (p, ctx) => p.post.update({ where: { id: ctx.post! }, data: { title: `retitled ${unique()}` } }),
    changed: ["posts with their authors"],
    hits: ["posts tagged life (relation filter)", "posts by alice's email (relation filter on the key's holder)", "published posts"],
  },
  {
    name: "a move of a row's foreign key: the list filtered through that relation changes",
    setup: async (b) => ({ post: (await b.post.create({ data: { title: `moving ${unique()}`, authorId: ids.users.carol } })).id }),
    write: (p, ctx) => p.post.update({ where: { id: ctx.post! }, data: { author: { connect: { id: ids.users.alice } } } }),
    changed: ["posts by alice's email (relation filter on the key's holder)", "posts of alice"],
    hits: ["posts tagged life (relation filter)", "user by id (alice)"],
  },
  {
    name: "implicit m-n connect",
    setup: async (b) => {
      await b.post.update({ where: { id: ids.posts.draft }, data: { tags: { disconnect: { id: ids.tags.life } } } });
      return {};
    },
    write: (p) => p.post.update({ where: { id: ids.posts.draft }, data: { tags: { connect: { id: ids.tags.life } } } }),
    changed: ["tag include posts (life)", "posts tagged life (relation filter)"],
    hits: ["post by id (hello)", "tag by id (news)", "user by id (alice)"],
  },
  {
    name: "delete with onDelete Cascade and SetNull",
    setup: async (b) => {
      const u = await b.user.create({
        data: { email: `${unique()}@doomed.example`, profile: { create: { bio: "doomed" } }, posts: { create: { title: "will lose its author" } } },
      });
      return { user: u.id };
    },
    write: (p, ctx) => p.user.delete({ where: { id: ctx.user! } }),
    changed: ["profile count", "posts without author (count)", "user count"],
    // Post rows lose their author (SetNull): which ones is unknown, so Post reads go stale too.
    hits: ["sample by compound unique (alpha)", "tag by id (news)", "group by id (writers)"],
  },
  {
    // Comment.post is onUpdate: Cascade; the implicit m-n link rows follow the post's id too.
    name: "update of an id with onUpdate Cascade (a post's comments and tag links follow it)",
    setup: async (b) => {
      const post = await b.post.create({
        data: {
          title: `moving ${unique()}`,
          authorId: ids.users.carol,
          comments: { create: [{ body: "comes along" }] },
          tags: { connect: { id: ids.tags.life } },
        },
      });
      return { post: post.id };
    },
    write: (p, ctx) => p.post.update({ where: { id: ctx.post! }, data: { id: ctx.post! + 1_000_000 } }),
    changed: ["comments list", "tag include posts (life)", "posts tagged life (relation filter)"],
    // Tag reads go stale too (the link rows of any tag may have moved); users, profiles, groups and samples stay.
    hits: ["user by id (alice)", "user count", "sample by compound unique (alpha)", "group include memberships (writers)", "profiles list"],
  },
  {
    // Profile.user, Post.author and Membership.user are onUpdate: Cascade (Prisma's default).
    name: "update of an id with onUpdate Cascade (a user's profile, posts and memberships follow it)",
    setup: async (b) => {
      const user = await b.user.create({
        data: {
          email: `${unique()}@moving.example`,
          profile: { create: { bio: "moves" } },
          posts: { create: { title: "moves with its author" } },
          memberships: { create: { groupId: ids.groups.writers } },
        },
      });
      return { user: user.id };
    },
    write: (p, ctx) => p.user.update({ where: { id: ctx.user! }, data: { id: ctx.user! + 1_000_000 } }),
    changed: ["users list", "profiles list", "group include memberships (writers)"],
    // Post rows change author: which ones is unknown, so Post reads (and tags with their posts) go stale too.
    hits: ["comment count", "comments list", "tag by id (news)", "group by id (writers)", "sample by compound unique (alpha)"],
  },
  {
    name: "deleteMany with onDelete Cascade (posts take their comments and tag links)",
    setup: async (b) => {
      const title = `doomed ${unique()}`;
      for (let i = 0; i < 2; i++) {
        await b.post.create({ data: { title, comments: { create: [{ body: "doomed" }] }, tags: { connect: { id: ids.tags.life } } } });
      }
      return {};
    },
    write: (p) => p.post.deleteMany({ where: { title: { startsWith: "doomed " } } }),
    changed: ["comment count", "comments list", "tag include posts (life)", "posts tagged life (relation filter)"],
    // Which tags lost links is unknown, so Tag reads go stale too.
    hits: ["user by id (alice)", "user count", "profiles list", "group include memberships (writers)", "sample by compound unique (alpha)"],
  },
  {
    name: "$executeRaw on one table",
    write: (p) => p.$executeRaw`UPDATE ${sqlIdent("Post")} SET views = views + 1 WHERE id = ${ids.posts.hello}`,
    changed: ["post by id (hello)", "post views (aggregate)"],
    hits: ["user by id (alice)", "tag by id (news)", "sample by compound unique (alpha)", "user count"],
  },
  {
    name: "$executeRawUnsafe on a @@map table",
    write: (p) =>
      p.$executeRawUnsafe(
        byProvider({
          postgresql: `UPDATE comments SET body = body || '!' WHERE "postId" = $1`,
          mysql: "UPDATE comments SET body = CONCAT(body, '!') WHERE `postId` = ?",
          sqlite: `UPDATE comments SET body = body || '!' WHERE "postId" = ?`,
        }),
        ids.posts.hello,
      ),
    changed: ["post include comments (hello)"],
    hits: ["post by id (hello)", "user by id (alice)", "tag by id (news)"],
  },
  {
    name: "interactive transaction",
    write: (p) => p.$transaction(async (tx) => tx.user.update({ where: { id: ids.users.bob }, data: { name: `Bob tx ${unique()}` } })),
    changed: ["user by id (bob)", "user by email (bob)"],
    hits: ["user by id (alice)", "post by id (hello)"],
  },
  {
    name: "batch transaction",
    write: (p) => p.$transaction([p.post.update({ where: { id: ids.posts.draft }, data: { title: `Draft ${unique()}` } })]),
    changed: ["post by id (draft)"],
    hits: ["post by id (hello)", "user by id (alice)"],
  },
];

describe.each([
  ["L1 only", false],
  ["L1 + Redis", true],
])("exact invalidation (%s)", (_label, withRedis) => {
  it.each(scenarios({} as SeedIds).map((s) => s.name))("%s", async (name) => {
    const scenario = scenarios(t.ids).find((s) => s.name === name)!;
    const all = reads(t.ids);
    const plain = t.plain().prisma;
    const ctx = (await scenario.setup?.(plain)) ?? {};
    const c = t.cached(withRedis ? { redis: t.redis() } : {});
    // Each test's clients close at its end: a MariaDB pool holds its connections open, and the file makes about a hundred clients.
    onTestFinished(async () => {
      await c.prisma.$disconnect();
      await plain.$disconnect();
    });
    const before = new Map<ReadName, unknown>();
    for (const [n, read] of Object.entries(all) as [ReadName, (p: Client) => Promise<unknown>][]) {
      before.set(n, await read(c.prisma));
      await read(c.prisma); // now cached
    }
    await scenario.write(c.prisma, ctx);
    for (const [n, read] of Object.entries(all) as [ReadName, (p: Client) => Promise<unknown>][]) {
      c.counter.reset();
      const got = await read(c.prisma);
      const queried = selects(c.counter);
      expect(got, `${n} after "${name}"`).toEqual(await read(plain as unknown as Client));
      if (scenario.hits.includes(n)) expect(queried, `${n} should still be a cache hit after "${name}"`).toBe(0);
      if (scenario.changed.includes(n)) expect(got, `${n} should have changed after "${name}"`).not.toEqual(before.get(n));
    }
  });
});

describe("fills without writes", () => {
  it("concurrent first reads of a fresh namespace, each creating the counters of the rows it found, refuse no fill", async () => {
    const c = t.cached({ redis: t.redis() });
    const { users, posts } = t.ids;
    const reads = [
      ...Object.values(posts).map((id) => c.prisma.post.findUnique({ where: { id }, include: { author: true, tags: true, comments: true } })),
      ...Object.values(users).map((id) => c.prisma.user.findUnique({ where: { id }, include: { posts: true, profile: true } })),
      ...Object.values(users).map((authorId) => c.prisma.post.findMany({ where: { authorId }, include: { author: true } })),
      c.prisma.post.findMany({ include: { author: true, tags: true } }),
      c.prisma.user.findUnique({ where: { email: "bob@example.com" }, include: { posts: { include: { comments: true } } } }),
    ];
    await Promise.all(reads);
    const s = c.prisma.$cache.stats();
    expect(s.fillsRefused).toBe(0);
    expect(s.fills).toBe(reads.length);
  });
});

describe("fills under writes", () => {
  it("a row's counter first made while another model is written: the fill is stored (no write to the rows it records was lost)", async () => {
    const c = t.cached({ redis: t.redis(), l1: false });
    const read = () => c.prisma.post.findMany({ where: { authorId: t.ids.users.bob }, orderBy: { id: "asc" } });
    // The cache's first read takes the database's fingerprint: done before the gate.
    await c.prisma.group.findMany();
    /** The read, with a write to another model landing while it holds its result (held after the database answered). */
    const readWhileWriting = async () => {
      const gate = c.counter.gateResult((q) => /^\s*select/i.test(q.sql) && mentionsTable(q.sql, "Post"));
      // Reads are lazy: then() starts this one.
      const pending = read().then((r) => r);
      await gate.opened;
      await c.prisma.tag.update({ where: { id: t.ids.tags.life }, data: { name: `life ${Math.random()}` } });
      gate.release();
      return pending;
    };
    // On one Redis the recorded counters are absent, made by the fill: the bump marks of Post's rows did not move (versions.ts).
    // A Cluster has no write sequence: a fill is refused by writes to the models whose rows it records, not Tag's.
    await readWhileWriting();
    // Two fills: the first read's (the group list) and this one's.
    expect(c.prisma.$cache.stats()).toMatchObject({ fillsRefused: 0, fills: 2 });
    await read();
    expect(c.prisma.$cache.stats()).toMatchObject({ fillsRefused: 0, fills: 2, hits: { l1: 0, l2: 1 } });
  });
});
