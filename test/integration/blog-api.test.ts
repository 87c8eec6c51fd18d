/**
 * The blog API example (examples/blog-api) as two cached instances, A and
 * B: two OS processes on the run's Postgres (a database of its own, with the
 * blog schema's migration) and Redis, in one namespace; and P, a third
 * instance with the plain PrismaClient, whose answers are the truth.
 *
 * For each kind of write through A: every route the write affects, which B
 * held in its cache, answers through B as P does, with the change; and
 * routes the write cannot affect stay cache hits on B. Then random writes
 * through either instance, each followed by random reads through either,
 * compared with P.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { AFTER_HEADER, BUMP_HEADER, USER_HEADER } from "../../examples/blog-api/app";
import { createBlogDatabase, type Seeded, seedBlog, slugOf } from "../../examples/blog-api/database";
import { type ApiProcess, scrapeMetrics, startBlogInstance, startBlogInstances } from "../../examples/blog-api/instances";
import { redisUrl, uniqueNamespace } from "../support/db";
import { mulberry32 } from "../support/prng";
import { withClient } from "../support/servers";

const started: ApiProcess[] = [];
let dbName: string | undefined;
let a: ApiProcess;
let b: ApiProcess;
let p: ApiProcess;
let seeded: Seeded;

beforeAll(async () => {
  // The example's schema is Postgres's (the suite project runs on it).
  const { provider } = inject("ptcDatabase");
  if (provider !== "postgresql") throw new Error(`examples/blog-api runs on Postgres; this run's database is ${provider} (PTC_DB)`);
  dbName = `ptc_${inject("ptcRunId")}_blog_${process.pid}_${randomBytes(2).toString("hex")}`;
  const url = await createBlogDatabase(inject("ptcPgAdminUrl"), dbName);
  seeded = await seedBlog(url, { users: 8, articles: 12, tags: 5, commentsPerArticle: 2, favoritesPerUser: 2, followsPerUser: 2 }, 7);
  // A heartbeat longer than any event-loop stall of a loaded machine: a silent-bus verdict would send L1 reads to Redis.
  const options = { databaseUrl: url, redisUrl: redisUrl(), namespace: uniqueNamespace("blog-api"), heartbeat: 30_000 };
  const [pair, plain] = await Promise.all([startBlogInstances(2, options), startBlogInstance({ databaseUrl: url, cache: false })]);
  started.push(...pair, plain);
  [a, b] = pair as [ApiProcess, ApiProcess];
  p = plain;
}, 120_000);

afterAll(async () => {
  // What the instances logged (errors behind a 500 answer, Redis errors), to see why a test failed.
  for (const s of started) if (s.output().includes("[blog-api]")) console.error(`instance ${s.url} logged:\n${s.output()}`);
  await Promise.all(started.map((s) => s.stop()));
  if (dbName) await withClient(inject("ptcPgAdminUrl"), (c) => c.query(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`));
});

/** A request: the path, and the current user's id (none: anonymous). */
interface Req {
  path: string;
  user?: number;
}
/** An answer: its status and JSON body, and the bump of a write. */
interface Answer {
  status: number;
  body: unknown;
  bump: string | null;
}

const label = (r: Req) => `${r.path}${r.user === undefined ? "" : ` as user ${r.user}`}`;

async function call(to: ApiProcess, method: string, r: Req, options: { body?: unknown; after?: string | null } = {}): Promise<Answer> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (r.user !== undefined) headers[USER_HEADER] = String(r.user);
  if (options.after) headers[AFTER_HEADER] = options.after;
  const res = await fetch(to.url + r.path, { method, headers, body: options.body === undefined ? undefined : JSON.stringify(options.body) });
  return { status: res.status, body: await res.json(), bump: res.headers.get(BUMP_HEADER) };
}
const read = (to: ApiProcess, r: Req, after?: string | null) => call(to, "GET", r, { after }).then(({ status, body }) => ({ status, body }));

/** A write through `to` that must succeed; returns its answer (with its bump). */
async function write(to: ApiProcess, method: string, r: Req, body?: unknown): Promise<Answer> {
  const answer = await call(to, method, r, { body });
  expect(answer.status, `${method} ${label(r)}: ${JSON.stringify(answer.body)}`).toBeLessThan(300);
  expect(answer.bump).toMatch(/^\d+:.+$/);
  return answer;
}

/** The cache's hits (both tiers) and misses on an instance, from its /metrics. */
async function counters(to: ApiProcess): Promise<{ hits: number; misses: number }> {
  const m = await scrapeMetrics(to.url);
  const value = (name: string) => m.get(name) ?? Number.NaN;
  return { hits: value('prisma_cache_hits_total{tier="l1"}') + value('prisma_cache_hits_total{tier="l2"}'), misses: value("prisma_cache_misses_total") };
}

/** Cached reads a route makes: a list is a findMany and a count. */
const queriesOf = (r: Req) => (/^\/articles(\?|$)/.test(r.path) ? 2 : 1);
const sum = (rs: Req[]) => rs.reduce((n, r) => n + queriesOf(r), 0);

/**
 * Reads every route through B twice (the second time from its cache), runs
 * `change` (a write through A), then reads each `affected` route through B
 * with the write's bump as `x-cache-after`: the answer is P's, and differs
 * from the one before. Each `unaffected` route answers as P does, from B's
 * cache.
 */
async function writeThenRead(change: () => Promise<Answer>, affected: Req[], unaffected: Req[]): Promise<Answer> {
  const all = [...affected, ...unaffected];
  const before = new Map<string, unknown>();
  for (const r of all) before.set(label(r), await read(b, r));
  const c0 = await counters(b);
  for (const r of all) expect(await read(b, r), label(r)).toEqual(before.get(label(r)));
  expect(await counters(b), "B serves every route from its cache before the write").toEqual({ hits: c0.hits + sum(all), misses: c0.misses });

  const written = await change();
  for (const r of affected) {
    const after = await read(b, r, written.bump);
    expect(after, `${label(r)} through B after the write`).toEqual(await read(p, r));
    expect(after, `${label(r)} changed`).not.toEqual(before.get(label(r)));
  }
  const c1 = await counters(b);
  for (const r of unaffected) expect(await read(b, r, written.bump), `${label(r)} through B after the write`).toEqual(await read(p, r));
  expect(await counters(b), `B serves ${unaffected.map(label).join(", ")} from its cache after the write`).toEqual({
    hits: c1.hits + sum(unaffected),
    misses: c1.misses,
  });
  return written;
}

describe("examples/blog-api on two instances", () => {
  const user = (i: number) => seeded.users[i]!;
  /** The current user of the scenarios, and the articles and author they act on. */
  const me = () => user(1).id;
  const five = `/articles/${slugOf(5)}`;
  const seven = `/articles/${slugOf(7)}`;
  const feed = "/articles?limit=20&offset=0";

  it("serves the seeded blog through the cache as the plain client does", async () => {
    const routes: Req[] = [
      { path: feed },
      { path: "/articles?limit=5&offset=3", user: me() },
      { path: "/articles?tag=tag0" },
      { path: `/articles?author=${user(5).username}` },
      { path: `/articles?favorited=${user(2).username}`, user: me() },
      { path: five, user: me() },
      { path: `${five}/comments` },
      { path: `/profiles/${user(7).username}`, user: me() },
      { path: "/tags" },
      { path: "/user", user: me() },
      { path: "/articles/no-such-article" },
    ];
    for (const r of routes) {
      const truth = await read(p, r);
      expect(await read(a, r), label(r)).toEqual(truth); // a miss
      expect(await read(b, r), label(r)).toEqual(truth); // from Redis
      expect(await read(b, r), label(r)).toEqual(truth); // from B's L1
    }
    expect((await read(b, { path: five })).body).toMatchObject({ article: { slug: slugOf(5), author: { username: user(5).username } } });
  });

  it("favorite and unfavorite: the article, the feed and the favorited list change; another article stays a cache hit", async () => {
    await write(a, "DELETE", { path: `${five}/favorite`, user: me() }); // so that the favorite below is a change
    const affected = [{ path: five, user: me() }, { path: five }, { path: feed, user: me() }, { path: `/articles?favorited=${user(1).username}` }];
    // Not the article's comments: they come with its row (an include), whose updatedAt the favorite sets.
    const unaffected = [{ path: seven, user: me() }, { path: seven }, { path: `${seven}/comments` }, { path: "/tags" }];
    const favorited = await writeThenRead(() => write(a, "POST", { path: `${five}/favorite`, user: me() }), affected, unaffected);
    expect(favorited.body).toMatchObject({ article: { slug: slugOf(5), favorited: true } });
    expect((await read(b, { path: five, user: me() })).body).toMatchObject({ article: { favorited: true } });
    await writeThenRead(() => write(a, "DELETE", { path: `${five}/favorite`, user: me() }), affected, unaffected);
    expect((await read(b, { path: five, user: me() })).body).toMatchObject({ article: { favorited: false } });
  });

  it("follow and unfollow: the profile, and the author of their articles, change; other users' rows stay cache hits", async () => {
    const author = user(7);
    await write(a, "DELETE", { path: `/profiles/${author.username}/follow`, user: me() });
    const affected = [
      { path: `/profiles/${author.username}`, user: me() },
      { path: seven, user: me() },
      { path: feed, user: me() },
    ];
    const unaffected = [{ path: "/user", user: author.id }, { path: "/user", user: me() }, { path: "/tags" }];
    const followed = await writeThenRead(() => write(a, "POST", { path: `/profiles/${author.username}/follow`, user: me() }), affected, unaffected);
    expect(followed.body).toEqual({ profile: expect.objectContaining({ username: author.username, following: true }) });
    expect((await read(b, { path: seven, user: me() })).body).toMatchObject({ article: { author: { username: author.username, following: true } } });
    await writeThenRead(() => write(a, "DELETE", { path: `/profiles/${author.username}/follow`, user: me() }), affected, unaffected);
    expect((await read(b, { path: `/profiles/${author.username}`, user: me() })).body).toMatchObject({ profile: { following: false } });
  });

  it("comment: the article's comments change; another article's comments, the article and the feed stay cache hits", async () => {
    const comment = { comment: { body: `A comment ${randomBytes(3).toString("hex")}` } };
    await writeThenRead(
      () => write(a, "POST", { path: `${five}/comments`, user: me() }, comment),
      [{ path: `${five}/comments` }, { path: `${five}/comments`, user: me() }],
      [{ path: `${seven}/comments` }, { path: five, user: me() }, { path: feed }],
    );
    const { body } = await read(b, { path: `${five}/comments` });
    expect((body as { comments: unknown[] }).comments[0]).toMatchObject({ body: comment.comment.body, author: { username: user(1).username } });
  });

  it("edit: the article changes in every list it is in; another article and its author's profile stay cache hits", async () => {
    const { body: current } = await read(p, { path: five });
    const tag = (current as { article: { tagList: string[] } }).article.tagList[0]!;
    const title = `Edited ${randomBytes(3).toString("hex")}`;
    await writeThenRead(
      () => write(a, "PUT", { path: five, user: me() }, { article: { title, body: "New body" } }),
      [{ path: five }, { path: five, user: me() }, { path: feed }, { path: `/articles?author=${user(5).username}` }, { path: `/articles?tag=${tag}` }],
      [{ path: seven }, { path: `${seven}/comments` }, { path: `/profiles/${user(5).username}` }, { path: "/tags" }],
    );
    expect((await read(b, { path: five })).body).toMatchObject({ article: { slug: slugOf(5), title, body: "New body" } });
  });

  it("create: the feed, the tag lists, the author's list and the tags change, and the new slug is found; other rows stay cache hits", async () => {
    const suffix = randomBytes(3).toString("hex");
    const title = `Fresh article ${suffix}`;
    const slug = `fresh-article-${suffix}`;
    const created = await writeThenRead(
      () => write(a, "POST", { path: "/articles", user: me() }, { article: { title, description: "d", body: "b", tagList: ["tag0", `new-${suffix}`] } }),
      [
        { path: feed },
        { path: "/articles?tag=tag0" },
        { path: `/articles?tag=new-${suffix}` },
        { path: `/articles?author=${user(1).username}`, user: me() },
        { path: "/tags" },
        { path: `/articles/${slug}` },
      ],
      [{ path: `${seven}/comments` }, { path: `/profiles/${user(7).username}` }, { path: "/user", user: me() }],
    );
    expect(created.body).toMatchObject({ article: { slug, tagList: ["new-" + suffix, "tag0"].sort() } });
    expect((await read(b, { path: "/tags" })).body).toMatchObject({ tags: expect.arrayContaining([`new-${suffix}`]) });
  });

  it("random writes through either instance: every read through either answers as the plain client does", async () => {
    const rand = mulberry32(20261207);
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)]!;
    const maybeUser = () => (rand() < 0.5 ? undefined : pick(seeded.users).id);
    const slugs = seeded.articles.map((x) => x.slug);
    const names = seeded.users.map((u) => u.username);
    const tags = [...seeded.tags, "extra-a", "extra-b"];
    /** The last bump each instance published: a read through one waits for the other's. */
    const last = new Map<ApiProcess, string>();
    const reads: Array<() => Req> = [
      () => ({ path: `/articles?limit=${pick([3, 20])}&offset=${pick([0, 2])}`, user: maybeUser() }),
      () => ({ path: `/articles?tag=${pick(tags)}`, user: maybeUser() }),
      () => ({ path: `/articles?author=${pick(names)}`, user: maybeUser() }),
      () => ({ path: `/articles?favorited=${pick(names)}`, user: maybeUser() }),
      () => ({ path: `/articles/${pick(slugs)}`, user: maybeUser() }),
      () => ({ path: `/articles/${pick(slugs)}/comments`, user: maybeUser() }),
      () => ({ path: `/profiles/${pick(names)}`, user: maybeUser() }),
      () => ({ path: "/tags" }),
      () => ({ path: "/user", user: pick(seeded.users).id }),
    ];
    const history: string[] = [];
    for (let step = 0; step < 80; step++) {
      const via = rand() < 0.5 ? a : b;
      const actor = pick(seeded.users);
      const kind = pick(["favorite", "unfavorite", "follow", "unfollow", "comment", "edit", "create"] as const);
      const slug = pick(slugs);
      let answer: Answer;
      switch (kind) {
        case "favorite":
        case "unfavorite":
          answer = await write(via, kind === "favorite" ? "POST" : "DELETE", { path: `/articles/${slug}/favorite`, user: actor.id });
          break;
        case "follow":
        case "unfollow": {
          const other = pick(seeded.users.filter((u) => u !== actor));
          answer = await write(via, kind === "follow" ? "POST" : "DELETE", { path: `/profiles/${other.username}/follow`, user: actor.id });
          break;
        }
        case "comment":
          answer = await write(via, "POST", { path: `/articles/${slug}/comments`, user: actor.id }, { comment: { body: `comment ${step}` } });
          break;
        case "edit":
          answer = await write(via, "PUT", { path: `/articles/${slug}`, user: actor.id }, { article: { title: `Title ${step}`, description: `d${step}` } });
          break;
        default: {
          const title = `Random ${step} ${randomBytes(2).toString("hex")}`;
          const tagList = [pick(tags), pick(tags)];
          answer = await write(via, "POST", { path: "/articles", user: actor.id }, { article: { title, description: "d", body: "b", tagList } });
          slugs.push((answer.body as { article: { slug: string } }).article.slug);
        }
      }
      last.set(via, answer.bump!);
      history.push(`${kind} through ${via === a ? "A" : "B"} by user ${actor.id} (${slug})`);
      for (let i = 0; i < 5; i++) {
        const to = rand() < 0.5 ? a : b;
        const r = pick(reads)();
        const got = await read(to, r, last.get(to === a ? b : a));
        expect(got, `step ${step}: ${label(r)} through ${to === a ? "A" : "B"} after\n  ${history.slice(-5).join("\n  ")}`).toEqual(await read(p, r));
      }
    }
  }, 120_000);
});
