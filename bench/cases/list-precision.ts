/**
 * List precision: a list-heavy workload on the blog schema (User, Post,
 * Comment, Tag), 95 % reads and 5 % writes, run four times in the same run
 * on the same seeded operation sequence and the same starting data: through a
 * plain PrismaClient (the throughput baseline), through the cache with
 * precise dependencies (the default: docs/how-it-works.md, "What a read
 * depends on"), and through the cache with
 * `rowLevel: false` (every list, include and count depends on its whole
 * models), and precise with the change feed on (docs/change-feed.md: the
 * app's own writes arrive on the feed and are bumped again). L1 only (no
 * Redis), so the whole cache is in process.
 *
 * - Data, reset before each run (TRUNCATE ... RESTART IDENTITY, then raw
 *   INSERT ... SELECT generate_series): {@link DEFAULTS}.users users,
 *   posts spread evenly over them, comments spread evenly over the posts,
 *   tags linked to each post; indexes on the foreign keys a list filters by
 *   (`Post.authorId`, `comments.postId`), as an app would have.
 * - Operations (mulberry32, fixed seed): reads of six shapes (lists by
 *   author, a user page with its latest posts and post count, a post page
 *   with its comments and tags, a count by author, the latest published
 *   posts, the comments of a post) and writes of seven (a post's title or
 *   views, a comment on a post, a post by an author, a user's name, a tag
 *   connected to or disconnected from a post). Users, posts and tags are
 *   chosen by zipf ranks mapped to ids in a seeded random order, for reads
 *   and writes alike.
 * - The first {@link DEFAULTS}.warmup operations warm up each client
 *   (untimed, not counted); the rest are timed, {@link DEFAULTS}.concurrency
 *   in flight at once, each worker taking the next operation of the sequence.
 * - Hit ratio = (hits.l1 + hits.l2) / reads of the timed part, from
 *   `$cache.stats()`. Throughput = timed operations / wall-clock seconds;
 *   latency per operation from `process.hrtime.bigint()` around each call.
 * - After each cached run, a seeded sample of the distinct reads of the
 *   sequence is read through the cached client and through a plain one: the
 *   results must be equal.
 * @module
 */
import { isDeepStrictEqual } from "node:util";
import { PrismaPg } from "@prisma/adapter-pg";
import { PrismaClient } from "../../generated/prisma/client";
import { mulberry32 } from "../../test/support/prng";
import type { BenchEnv } from "../lib/env";
import { ratio, Samples } from "../lib/measure";
import { shuffled, zipf } from "../lib/sequence";
import type { Check, Figure, HitRatioGroup, HitRatioRun, ThroughputRun } from "../lib/types";

/** Knobs of the list-precision group. */
export interface ListPrecisionOptions {
  users?: number;
  posts?: number;
  comments?: number;
  tags?: number;
  /** Tags linked to each post by the seed. */
  tagsPerPost?: number;
  /** Timed operations per run. */
  operations?: number;
  /** Untimed operations before them (the start of the same sequence). */
  warmup?: number;
  /** Share of writes. */
  writeShare?: number;
  /** Zipf exponent of users, posts and tags. */
  exponent?: number;
  /** Operations in flight at once. */
  concurrency?: number;
  /** PRNG seed. */
  seed?: number;
  /** Distinct reads compared, cached vs uncached, after each cached run. */
  compare?: number;
}

const DEFAULTS: Required<ListPrecisionOptions> = {
  users: 500,
  posts: 5_000,
  comments: 20_000,
  tags: 50,
  tagsPerPost: 2,
  operations: 12_000,
  warmup: 2_000,
  writeShare: 0.05,
  exponent: 1.0,
  concurrency: 8,
  seed: 0x1157_9ec5,
  compare: 1_000,
};

/**
 * L1 of the cached runs: entries live as long as their ttl (the default
 * `l1.ttl` of 5 s also applies without Redis, and would expire entries
 * mid-run), and room for every key of the sequence.
 */
const L1 = { ttl: 600, max: 100_000 };

/** The read shapes and their shares of the reads. */
const READ_SHARES = {
  authorPosts: 0.25,
  userPage: 0.15,
  postPage: 0.25,
  authorCount: 0.1,
  published: 0.05,
  postComments: 0.2,
} as const;
type ReadKind = keyof typeof READ_SHARES;
/** The write shapes, equally likely. */
const WRITE_KINDS = ["postTitle", "postViews", "comment", "post", "userName", "tagConnect", "tagDisconnect"] as const;
type WriteKind = (typeof WRITE_KINDS)[number];

/** One operation: `id` is a user's or a post's id (by kind), `tag` a tag's id for tag writes. */
type Op = { kind: ReadKind; write: false; id: number } | { kind: WriteKind; write: true; id: number; tag: number };

/** The models the workload touches, as both clients expose them. */
type Db = Pick<PrismaClient, "user" | "post" | "comment">;

/** The six read shapes. */
const READS: Record<ReadKind, (db: Db, id: number) => Promise<unknown>> = {
  authorPosts: (db, id) => db.post.findMany({ where: { authorId: id }, orderBy: { id: "desc" }, take: 10, include: { author: true } }),
  userPage: (db, id) => db.user.findUnique({ where: { id }, include: { posts: { take: 5, orderBy: { id: "desc" } }, _count: { select: { posts: true } } } }),
  postPage: (db, id) => db.post.findUnique({ where: { id }, include: { comments: true, tags: true } }),
  authorCount: (db, id) => db.post.count({ where: { authorId: id } }),
  published: (db) => db.post.findMany({ where: { published: true }, orderBy: { id: "desc" }, take: 20 }),
  postComments: (db, id) => db.comment.findMany({ where: { postId: id } }),
};

/** The writes; `i` is the operation's index in the sequence (for the values written). */
const WRITES: Record<WriteKind, (db: Db, op: { id: number; tag: number }, i: number) => Promise<unknown>> = {
  postTitle: (db, { id }, i) => db.post.update({ where: { id }, data: { title: `post ${id}, edit ${i}` } }),
  postViews: (db, { id }) => db.post.update({ where: { id }, data: { views: { increment: 1 } } }),
  comment: (db, { id }, i) => db.comment.create({ data: { body: `comment ${i}`, post: { connect: { id } } } }),
  post: (db, { id }, i) => db.post.create({ data: { title: `new post ${i}`, content: `by user ${id}`, authorId: id, published: i % 2 === 0 } }),
  userName: (db, { id }, i) => db.user.update({ where: { id }, data: { name: `user ${id}, edit ${i}` } }),
  tagConnect: (db, { id, tag }) => db.post.update({ where: { id }, data: { tags: { connect: { id: tag } } } }),
  tagDisconnect: (db, { id, tag }) => db.post.update({ where: { id }, data: { tags: { disconnect: { id: tag } } } }),
};

/** Which reads take a user's id (the others take a post's, or none). */
const BY_USER: ReadonlySet<ReadKind> = new Set(["authorPosts", "userPage", "authorCount"]);
const BY_USER_WRITE: ReadonlySet<WriteKind> = new Set(["post", "userName"]);

/** The operation sequence, from the seed alone (ids 1..n: the seed restarts every identity). */
function operations(o: Required<ListPrecisionOptions>): Op[] {
  const random = mulberry32(o.seed);
  const ids = (n: number) => Array.from({ length: n }, (_, i) => i + 1);
  const userOfRank = shuffled(ids(o.users), random);
  const postOfRank = shuffled(ids(o.posts), random);
  const tagOfRank = shuffled(ids(o.tags), random);
  const user = zipf(o.users, o.exponent, random);
  const post = zipf(o.posts, o.exponent, random);
  const tag = zipf(o.tags, o.exponent, random);
  const reads = Object.entries(READ_SHARES) as [ReadKind, number][];
  const ops: Op[] = [];
  for (let i = 0; i < o.warmup + o.operations; i++) {
    const u = random();
    if (u < o.writeShare) {
      const kind = WRITE_KINDS[Math.floor(random() * WRITE_KINDS.length)]!;
      const id = BY_USER_WRITE.has(kind) ? userOfRank[user()]! : postOfRank[post()]!;
      ops.push({ kind, write: true, id, tag: tagOfRank[tag()]! });
      continue;
    }
    let r = (u - o.writeShare) / (1 - o.writeShare);
    let kind: ReadKind = reads[reads.length - 1]![0];
    for (const [k, share] of reads) {
      if (r < share) {
        kind = k;
        break;
      }
      r -= share;
    }
    const id = kind === "published" ? 0 : BY_USER.has(kind) ? userOfRank[user()]! : postOfRank[post()]!;
    ops.push({ kind, write: false, id });
  }
  return ops;
}

/** Runs `op` (the `i`-th of the sequence) against `db`. */
function execute(db: Db, op: Op, i: number): Promise<unknown> {
  return op.write ? WRITES[op.kind](db, op, i) : READS[op.kind](db, op.id);
}

type WithId = { id: number };
const byId = (rows: WithId[]): WithId[] => [...rows].sort((x, y) => x.id - y.id);

/**
 * A read's result with the lists it does not order (`postPage`'s comments
 * and tags, `postComments`) sorted by id: SQL leaves their order to the plan,
 * and the plan may change between the fill and the comparison (in a trial,
 * Postgres returned a post's tags in insertion order at one time and by tag
 * id later, with no write to them in between).
 */
function canonical(op: Op, value: unknown): unknown {
  if (op.kind === "postComments") return byId(value as WithId[]);
  if (op.kind === "postPage" && value !== null) {
    const post = value as { comments: WithId[]; tags: WithId[] };
    return { ...post, comments: byId(post.comments), tags: byId(post.tags) };
  }
  return value;
}

/** Empties the tables of the workload and seeds them again, with identities restarted (the same ids every time). */
async function seed(db: PrismaClient, o: Required<ListPrecisionOptions>): Promise<void> {
  await db.$executeRawUnsafe(`TRUNCATE "User", "Post", "comments", "Tag", "_PostToTag" RESTART IDENTITY CASCADE`);
  await db.$executeRawUnsafe(
    `INSERT INTO "User" ("email", "name") SELECT 'user' || g || '@example.com', 'user ' || g FROM generate_series(1, ${o.users}) AS g`,
  );
  // Authors round-robin in a scrambled order (7919 is prime to the user count in the defaults: 10 posts each).
  await db.$executeRawUnsafe(
    `INSERT INTO "Post" ("title", "content", "published", "views", "authorId")
     SELECT 'post ' || g, 'content of post ' || g, g % 3 <> 0, g % 100, 1 + (g * 7919) % ${o.users} FROM generate_series(1, ${o.posts}) AS g`,
  );
  await db.$executeRawUnsafe(
    `INSERT INTO "comments" ("body", "postId") SELECT 'comment ' || g, 1 + (g * 104729) % ${o.posts} FROM generate_series(1, ${o.comments}) AS g`,
  );
  await db.$executeRawUnsafe(`INSERT INTO "Tag" ("name") SELECT 'tag ' || g FROM generate_series(1, ${o.tags}) AS g`);
  await db.$executeRawUnsafe(
    `INSERT INTO "_PostToTag" ("A", "B")
     SELECT p, 1 + (p * 31 + k * 17) % ${o.tags} FROM generate_series(1, ${o.posts}) AS p, generate_series(1, ${o.tagsPerPost}) AS k
     ON CONFLICT DO NOTHING`,
  );
  await db.$executeRawUnsafe(`ANALYZE "User", "Post", "comments", "Tag", "_PostToTag"`);
}

/** The counters of `$cache.stats()` a run reports. */
interface Counters {
  l1: number;
  l2: number;
  misses: number;
  fills: number;
  fillsRefused: number;
  coalesced: number;
  bypasses: number;
}

/** What one run measured. */
interface Measured {
  throughput: ThroughputRun;
  reads: number;
  writes: number;
  /** Counters over the timed part (cached runs). */
  counters?: Counters;
  seconds: number;
}

const pct = (v: number) => `${(v * 100).toFixed(1)} %`;
const fmt = (n: number) => n.toLocaleString("en-US");
/** A ratio: two decimals, or two significant digits below 0.1 (so that a small one does not read 0.00×). */
const times = (v: number) => `${v >= 0.1 ? v.toFixed(2) : v.toPrecision(2)}×`;
const round = (v: number) => Math.round(v * 10) / 10;

/** Runs the list-precision group. Disconnects everything it opened. */
export async function listPrecision(env: BenchEnv, options: ListPrecisionOptions = {}): Promise<HitRatioGroup> {
  const started = Date.now();
  const o = { ...DEFAULTS, ...options };
  const { prismaCache } = env.library;
  const url = await env.database("list_precision");
  const truth = new PrismaClient({ adapter: new PrismaPg({ connectionString: url }) });
  const ops = operations(o);
  const timed = ops.slice(o.warmup);
  const checks: Record<string, Check> = {
    seed: { label: "seed, before each of the four runs: users, posts (last id), comments, post–tag links", value: "" },
  };
  try {
    await truth.$connect();
    await truth.$executeRawUnsafe(`CREATE INDEX IF NOT EXISTS "Post_authorId_idx" ON "Post" ("authorId")`);
    await truth.$executeRawUnsafe(`CREATE INDEX IF NOT EXISTS "comments_postId_idx" ON "comments" ("postId")`);

    // A seeded sample of the distinct reads of the timed part, compared cached vs uncached after each cached run.
    const distinct = new Map<string, Op>();
    for (const op of timed) if (!op.write) distinct.set(`${op.kind}:${op.id}`, op);
    const sample = shuffled([...distinct.values()], mulberry32(o.seed ^ 0x5a5a)).slice(0, o.compare);

    const feedNamespace = env.namespace("list-precision-feed");
    const run = async (id: "plain" | "precise" | "modelLevel" | "feed", label: string, short: string): Promise<Measured> => {
      const t0 = Date.now();
      await seed(truth, o);
      const seeded = {
        users: await truth.user.count(),
        posts: await truth.post.aggregate({ _count: { _all: true }, _max: { id: true } }),
        comments: await truth.comment.count(),
        links: (await truth.$queryRawUnsafe<{ n: number }[]>(`SELECT count(*)::int AS n FROM "_PostToTag"`))[0]!.n,
      };
      const value = `${fmt(seeded.users)}, ${fmt(seeded.posts._count._all)} (${seeded.posts._max.id}), ${fmt(seeded.comments)}, ${fmt(seeded.links)}`;
      const ok =
        seeded.users === o.users &&
        seeded.posts._count._all === o.posts &&
        seeded.posts._max.id === o.posts &&
        seeded.comments === o.comments &&
        seeded.links > 0;
      // One check for the four runs: the same data each time.
      const seedCheck = checks.seed!;
      if (seedCheck.value === "") Object.assign(seedCheck, { value, ok });
      else if (value !== seedCheck.value || !ok) Object.assign(seedCheck, { value: `${seedCheck.value}, then ${value} (${short})`, ok: false });

      const base = new PrismaClient({ adapter: new PrismaPg({ connectionString: url }) });
      const feed = id === "feed" ? { namespace: feedNamespace, changeFeed: { url } } : {};
      // As docs/change-feed.md recommends: the old row in the log, so that an update bumps the fields it changed.
      if (id === "feed")
        for (const table of ["User", "Post", "comments", "Tag", "_PostToTag"]) await truth.$executeRawUnsafe(`ALTER TABLE "${table}" REPLICA IDENTITY FULL`);
      const cached = id === "plain" ? undefined : base.$extends(prismaCache({ ttl: 600, l1: L1, rowLevel: id !== "modelLevel", ...feed }));
      // The cached client's model methods take the same arguments (plus `cache`) and return the same results.
      const db: Db = cached ? (cached as unknown as Db) : base;
      try {
        await base.$connect();
        if (cached) await cached.$cache.ready();
        // With the feed: once it streams (it makes everything stale when it starts afresh), before the warm-up.
        for (let i = 0; id === "feed" && cached?.$cache.stats().feed?.status !== "streaming"; i++) {
          if (i > 30_000) throw new Error("list-precision: the change feed did not start");
          await new Promise((r) => setTimeout(r, 1));
        }
        const stats = (): Counters => {
          const s = cached!.$cache.stats();
          return {
            l1: s.hits.l1,
            l2: s.hits.l2,
            misses: s.misses,
            fills: s.fills,
            fillsRefused: s.fillsRefused,
            coalesced: s.coalesced,
            bypasses: s.bypasses,
          };
        };

        /** Runs ops[from, to), `concurrency` at a time; times each into `ns` when given. */
        const drive = async (from: number, to: number, ns?: { all: number[]; read: number[]; write: number[] }) => {
          let next = from;
          const worker = async () => {
            while (next < to) {
              const i = next++;
              const op = ops[i]!;
              const a = process.hrtime.bigint();
              await execute(db, op, i);
              if (ns) {
                const d = Number(process.hrtime.bigint() - a);
                ns.all.push(d);
                (op.write ? ns.write : ns.read).push(d);
              }
            }
          };
          await Promise.all(Array.from({ length: o.concurrency }, worker));
        };

        await drive(0, o.warmup);
        const before = cached ? stats() : undefined;
        const ns = { all: [] as number[], read: [] as number[], write: [] as number[] };
        const w0 = process.hrtime.bigint();
        await drive(o.warmup, ops.length, ns);
        const wall = Number(process.hrtime.bigint() - w0) / 1e9;
        const after = cached ? stats() : undefined;
        const summary = (v: number[]) => {
          const s = new Samples();
          s.add(v);
          return s.summary();
        };
        const all = summary(ns.all);
        const throughput: ThroughputRun = {
          label,
          operations: timed.length,
          concurrency: o.concurrency,
          opsPerSecond: Math.round(timed.length / wall),
          medianUs: all.medianUs,
          p99Us: all.p99Us,
          readMedianUs: summary(ns.read).medianUs,
          writeMedianUs: summary(ns.write).medianUs,
        };
        const reads = ns.read.length;
        const writes = ns.write.length;
        let counters: Counters | undefined;
        if (cached && before && after) {
          const c: Counters = {
            l1: after.l1 - before.l1,
            l2: after.l2 - before.l2,
            misses: after.misses - before.misses,
            fills: after.fills - before.fills,
            fillsRefused: after.fillsRefused - before.fillsRefused,
            coalesced: after.coalesced - before.coalesced,
            bypasses: after.bypasses - before.bypasses,
          };
          counters = c;
          checks[`${id}Counted`] = {
            label: `${short}: hits + misses + coalesced = reads of the timed part; bypasses`,
            value: `${fmt(c.l1 + c.l2)} + ${fmt(c.misses)} + ${fmt(c.coalesced)} = ${fmt(c.l1 + c.l2 + c.misses + c.coalesced)} of ${fmt(reads)}; ${c.bypasses}`,
            ok: c.l1 + c.l2 + c.misses + c.coalesced === reads && c.bypasses === 0,
          };

          // Correctness: the sample, cached (first) vs uncached.
          const s0 = stats();
          let different = 0;
          const examples: string[] = [];
          for (const op of sample) {
            if (!isDeepStrictEqual(canonical(op, await execute(db, op, -1)), canonical(op, await execute(truth, op, -1)))) {
              different++;
              if (examples.length < 3) examples.push(`${op.kind}(${op.id})`);
            }
          }
          const s1 = stats();
          const servedFromCache = s1.l1 + s1.l2 - s0.l1 - s0.l2;
          checks[`${id}Correct`] = {
            label: `${short}: cached = uncached after the run, for a sample of the distinct reads (served from the cache)`,
            value:
              different === 0
                ? `${fmt(sample.length)} equal (${fmt(servedFromCache)})`
                : `${fmt(different)} of ${fmt(sample.length)} differ (${examples.join(", ")})`,
            ok: different === 0,
          };
        }
        return { throughput, reads, writes, counters, seconds: round((Date.now() - t0) / 1000) };
      } finally {
        if (cached) await cached.$cache.close();
        await base.$disconnect();
        if (id === "feed")
          await truth.$executeRawUnsafe(`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = current_database()`);
      }
    };

    const plain = await run("plain", "uncached (plain PrismaClient)", "uncached");
    const precise = await run("precise", "precise dependencies (default)", "precise");
    const modelLevel = await run("modelLevel", "model-level only (rowLevel: false)", "model-level");
    const withFeed = await run("feed", "precise, with the change feed (the app's writes bumped again)", "feed");

    const hitRun = (m: Measured, label: string): HitRatioRun => {
      const c = m.counters!;
      return {
        label,
        reads: m.reads,
        writes: m.writes,
        hits: { l1: c.l1, l2: c.l2 },
        misses: c.misses,
        fills: c.fills,
        fillsRefused: c.fillsRefused,
        coalesced: c.coalesced,
        hitRatio: (c.l1 + c.l2) / m.reads,
        seconds: m.seconds,
      };
    };
    const runs = {
      precise: hitRun(precise, precise.throughput.label),
      modelLevel: hitRun(modelLevel, modelLevel.throughput.label),
      feed: hitRun(withFeed, withFeed.throughput.label),
    };
    const f = withFeed.throughput;
    const [p, m, u] = [precise.throughput, modelLevel.throughput, plain.throughput];
    // The hit ratio's ceiling: a timed read whose key no earlier operation of the sequence read cannot hit.
    const seen = new Set<string>();
    let repeated = 0;
    ops.forEach((op, i) => {
      if (op.write) return;
      const key = `${op.kind}:${op.id}`;
      if (i >= o.warmup && seen.has(key)) repeated++;
      seen.add(key);
    });
    const figures: Record<string, Figure> = {
      hitRatio: { label: "hit ratio: precise / model-level", value: `${pct(runs.precise.hitRatio)} / ${pct(runs.modelLevel.hitRatio)}` },
      ceiling: { label: "ceiling: timed reads of a key read earlier in the sequence", value: pct(repeated / precise.reads) },
      fillsRefused: { label: "fills refused: precise / model-level", value: `${fmt(runs.precise.fillsRefused)} / ${fmt(runs.modelLevel.fillsRefused)}` },
      opsPerSecond: {
        label: "operations/s: precise / model-level / uncached",
        value: `${fmt(p.opsPerSecond)} / ${fmt(m.opsPerSecond)} / ${fmt(u.opsPerSecond)}`,
      },
      median: {
        label: "median latency per operation: precise / model-level / uncached",
        value: `${p.medianUs.toFixed(0)} / ${m.medianUs.toFixed(0)} / ${u.medianUs.toFixed(0)} µs`,
      },
      throughputPreciseModel: { label: "throughput, precise ÷ model-level", value: times(ratio(p.opsPerSecond, m.opsPerSecond)) },
      throughputPrecisePlain: { label: "throughput, precise ÷ uncached", value: times(ratio(p.opsPerSecond, u.opsPerSecond)) },
      throughputModelPlain: { label: "throughput, model-level ÷ uncached", value: times(ratio(m.opsPerSecond, u.opsPerSecond)) },
      medianPreciseModel: { label: "median latency, precise ÷ model-level", value: times(p.medianUs / m.medianUs) },
      medianPrecisePlain: { label: "median latency, precise ÷ uncached", value: times(p.medianUs / u.medianUs) },
      medianModelPlain: { label: "median latency, model-level ÷ uncached", value: times(m.medianUs / u.medianUs) },
      feedHitRatio: { label: "change feed on / off: hit ratio", value: `${pct(runs.feed.hitRatio)} / ${pct(runs.precise.hitRatio)}` },
      feedThroughput: {
        label: "change feed on ÷ off: throughput",
        value: `${times(ratio(f.opsPerSecond, p.opsPerSecond))} (${fmt(f.opsPerSecond)} / ${fmt(p.opsPerSecond)} operations/s)`,
      },
    };
    const readCounts = Object.keys(READ_SHARES).map((k) => `${fmt(timed.filter((op) => op.kind === k).length)} ${k}`);
    const writeCounts = WRITE_KINDS.map((k) => `${fmt(timed.filter((op) => op.kind === k).length)} ${k}`);
    return {
      kind: "hit-ratio",
      title: `List precision: zipf ${o.exponent} over ${fmt(o.users)} users and ${fmt(o.posts)} posts, ${fmt(o.operations)} operations (${Math.round((1 - o.writeShare) * 100)} % reads, ${Math.round(o.writeShare * 100)} % writes), ${o.concurrency} in flight, L1 only: precise vs model-level dependencies vs uncached`,
      notes: [
        `Data (reset before each run): ${fmt(o.users)} users, ${fmt(o.posts)} posts (evenly over the users), ${fmt(o.comments)} comments (evenly over the posts), ${fmt(o.tags)} tags (${o.tagsPerPost} per post); indexes on Post.authorId and comments.postId.`,
        `Reads: post.findMany({ where: { authorId }, orderBy: { id: "desc" }, take: 10, include: { author: true } }) (authorPosts); user.findUnique({ where: { id }, include: { posts: { take: 5, orderBy: { id: "desc" } }, _count: { select: { posts: true } } } }) (userPage); post.findUnique({ where: { id }, include: { comments: true, tags: true } }) (postPage); post.count({ where: { authorId } }) (authorCount); post.findMany({ where: { published: true }, orderBy: { id: "desc" }, take: 20 }) (published); comment.findMany({ where: { postId } }) (postComments).`,
        "Writes, equally likely: post.update of title (postTitle) or of views: { increment: 1 } (postViews); comment.create with post: { connect } (comment); post.create with authorId (post); user.update of name (userName); post.update with tags: { connect } or { disconnect } (tagConnect, tagDisconnect).",
        `Sequence: mulberry32(seed ${o.seed}); users, posts and tags by zipf ranks mapped to ids in a seeded random order, for reads and writes. Timed part: ${readCounts.join(", ")}; ${writeCounts.join(", ")}; after ${fmt(o.warmup)} untimed operations of the same sequence.`,
        `Four runs on the same sequence and the same starting data, ${o.concurrency} operations in flight: a plain PrismaClient, then prismaCache({ ttl: 600, l1: { ttl: 600, max: 100000 } }) (no Redis), then the same with rowLevel: false, then precise with changeFeed: { url } (the consumer in the same process, so every app write is bumped again when the feed brings it; the tables with REPLICA IDENTITY FULL); l1.ttl is raised because its default (5 s) also bounds L1 entries when there is no Redis.`,
        "Correctness: after each cached run, a seeded sample of the distinct reads of the timed part is read through the cached client, then the plain one; lists the queries do not order (postPage's comments and tags, postComments) are compared sorted by id.",
        "Hit ratio from $cache.stats() over the timed part = (hits.l1 + hits.l2) / reads; operations/s = timed operations / wall-clock seconds; latency per operation around each call (reads and writes together).",
      ],
      runs,
      throughput: { precise: p, modelLevel: m, feed: f, plain: u },
      figures,
      checks,
      seconds: round((Date.now() - started) / 1000),
    };
  } finally {
    await truth.$disconnect();
  }
}
