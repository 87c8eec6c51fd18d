/**
 * Load comparison of the blog API example, by the method of the HTTP API
 * example's (`../http-api/load.ts`): two instances (two processes) sharing
 * one Postgres and one Redis, loaded with autocannon, first with the cache
 * and then with the plain PrismaClient (`--no-cache`), for each mix of
 * {@link MIXES}. Prints requests/s, latency percentiles and the cache's
 * counters of each side and writes them to `examples/blog-api/results.json`.
 *
 * ```sh
 * npm run example:blog        # npx tsx examples/blog-api/load.ts
 * ```
 *
 * - Servers: like the tests (test/support/servers.ts), `DATABASE_URL` /
 *   `REDIS_URL` if set (loopback only), else local `postgres` and
 *   `redis-server` binaries on free loopback ports, else testcontainers. On a
 *   given Postgres it creates databases of its own and drops them afterwards;
 *   on a given Redis it uses namespaces of its own and deletes their keys.
 * - `LOAD_DURATION` (s per side, default 10), `LOAD_WARMUP` (s per side, not
 *   measured, default 2), `LOAD_CONNECTIONS` (default 20, split over the two
 *   instances), `LOAD_SEED` (the request mix's PRNG seed).
 *
 * The data ({@link SIZES}) is seeded once; each side of each mix runs on its
 * own copy of it (`CREATE DATABASE ... TEMPLATE`), so that the writes of one
 * side do not change what the next one reads, and in a Redis namespace of
 * its own, so that each starts with a cold cache. Reads pick their article,
 * user and tag with Zipf weights (a few hot ones, a long tail; the newest
 * articles are the hottest, as on a blog's front page), and
 * {@link SIGNED_IN} of them are made by a signed-in user (`x-user-id`, a
 * user picked with Zipf weights), whose answers say whether they favorited
 * each article and follow each author. Writes are made by a user picked
 * uniformly, on an article (or an author) picked with the reads' weights.
 * Everything (load generator, both instances, Postgres, Redis) runs on this
 * machine.
 * @module
 */
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import os from "node:os";
import { fileURLToPath } from "node:url";
import autocannon from "autocannon";
import { Redis } from "ioredis";
import { mulberry32 } from "../../test/support/prng";
import { databaseUrl, dropRunDatabases, ServerScope, startServers, withClient } from "../../test/support/servers";
import { USER_HEADER } from "./app";
import { createBlogDatabase, type Seeded, type SeedSizes, seedBlog } from "./database";
import { type ApiProcess, scrapeMetrics, startBlogInstances } from "./instances";

const RESULTS = fileURLToPath(new URL("./results.json", import.meta.url));
/** What is seeded. */
export const SIZES: SeedSizes = { users: 500, articles: 2_000, tags: 50, commentsPerArticle: 3, favoritesPerUser: 8, followsPerUser: 5 };
/** Share of reads made by a signed-in user. */
export const SIGNED_IN = 0.2;
/** Exponent of the Zipf distribution: the row of rank k with weight 1/k^s. */
export const ZIPF_S = 1;

/** The reads, in percent of the reads of a mix. */
const READS = {
  "GET /articles?limit=20&offset= (feed)": 20,
  "GET /articles?tag=": 8,
  "GET /articles?author=": 5,
  "GET /articles?favorited=": 2,
  "GET /articles/:slug": 35,
  "GET /articles/:slug/comments": 15,
  "GET /profiles/:username": 10,
  "GET /tags": 5,
};
/** The writes, in percent of all requests, for a mix with `total` percent of writes. */
const writes = (total: number) => {
  const w = {
    "POST /articles/:slug/favorite": 30,
    "DELETE /articles/:slug/favorite": 10,
    "POST /profiles/:username/follow": 20,
    "POST /articles/:slug/comments": 20,
    "PUT /articles/:slug": 20,
  };
  return Object.fromEntries(Object.entries(w).map(([route, share]) => [route, (share * total) / 100])) as Record<keyof typeof w, number>;
};
type Route = keyof typeof READS | keyof ReturnType<typeof writes>;
/** A mix with `percent` of writes: the reads scaled to the rest. */
const mixOf = (percent: number): Record<Route, number> => ({
  ...(Object.fromEntries(Object.entries(READS).map(([route, share]) => [route, (share * (100 - percent)) / 100])) as Record<keyof typeof READS, number>),
  ...writes(percent),
});
/** The mixes, in percent of requests. Each runs with and without the cache. */
export const MIXES: Record<string, Record<Route, number>> = {
  "reads only": mixOf(0),
  "5 % writes": mixOf(5),
  "20 % writes": mixOf(20),
};

const seconds = (name: string, fallback: number) => {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number`);
  return value;
};
const DURATION = seconds("LOAD_DURATION", 10);
const WARMUP = seconds("LOAD_WARMUP", 2);
const CONNECTIONS = Math.max(2, Math.round(seconds("LOAD_CONNECTIONS", 20) / 2) * 2);
const SEED = Number(process.env.LOAD_SEED ?? 20261207);

/** What one side measured. */
interface Side {
  /** Mean of autocannon's per-second request counts. */
  requestsPerSecond: number;
  latencyMs: { p50: number; p99: number; max: number };
  requests: number;
  /** Cache counters summed over both instances over the measured run (with the cache). */
  cache?: {
    hitsL1: number;
    hitsL2: number;
    misses: number;
    /** (L1 + L2 hits) / (hits + misses): the cached reads answered without the database. */
    hitRatio: number;
    /** Fills refused because a write moved a version while the query ran. */
    fillsRefused: number;
    /** Misses that waited for the other instance's regeneration lease, or joined a query in flight in their own. */
    leaseWaits: number;
    coalesced: number;
    invalidations: number;
    /** Hit ratio and misses by model and operation (`Article.findMany`, ...). */
    byOperation: Record<string, { hitRatio: number; misses: number; fillsRefused: number }>;
  };
}

/** Picks an element of `xs` with Zipf weights (the first is the most likely), from uniform `rand`. */
function zipf<T>(xs: readonly T[], rand: () => number): () => T {
  const cdf = new Float64Array(xs.length);
  let sum = 0;
  for (let i = 0; i < xs.length; i++) cdf[i] = sum += 1 / (i + 1) ** ZIPF_S;
  return () => {
    const x = rand() * sum;
    let lo = 0;
    let hi = xs.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid]! < x) lo = mid + 1;
      else hi = mid;
    }
    return xs[lo]!;
  };
}

/** A generator of `percent`'s requests, drawn from `rand`. */
function mix(percent: Record<Route, number>, rand: () => number, data: Seeded): () => autocannon.Request {
  const hotArticle = zipf([...data.articles].reverse(), rand); // the newest first
  const hotUser = zipf(data.users, rand);
  const hotTag = zipf(data.tags, rand);
  const hotPage = zipf([0, 1, 2, 3, 4], rand);
  const anyUser = () => data.users[Math.floor(rand() * data.users.length)]!;
  const reader = (): Record<string, string> => (rand() < SIGNED_IN ? { [USER_HEADER]: String(hotUser().id) } : {});
  const writer = (id: number) => ({ "content-type": "application/json", [USER_HEADER]: String(id) });
  let edits = 0;
  const make: Record<Route, () => autocannon.Request> = {
    "GET /articles?limit=20&offset= (feed)": () => ({ method: "GET", path: `/articles?limit=20&offset=${20 * hotPage()}`, headers: reader() }),
    "GET /articles?tag=": () => ({ method: "GET", path: `/articles?tag=${hotTag()}&limit=20&offset=0`, headers: reader() }),
    "GET /articles?author=": () => ({ method: "GET", path: `/articles?author=${hotUser().username}&limit=20&offset=0`, headers: reader() }),
    "GET /articles?favorited=": () => ({ method: "GET", path: `/articles?favorited=${hotUser().username}&limit=20&offset=0`, headers: reader() }),
    "GET /articles/:slug": () => ({ method: "GET", path: `/articles/${hotArticle().slug}`, headers: reader() }),
    "GET /articles/:slug/comments": () => ({ method: "GET", path: `/articles/${hotArticle().slug}/comments`, headers: reader() }),
    "GET /profiles/:username": () => ({ method: "GET", path: `/profiles/${hotUser().username}`, headers: reader() }),
    "GET /tags": () => ({ method: "GET", path: "/tags", headers: reader() }),
    "POST /articles/:slug/favorite": () => ({ method: "POST", path: `/articles/${hotArticle().slug}/favorite`, headers: writer(anyUser().id) }),
    "DELETE /articles/:slug/favorite": () => ({ method: "DELETE", path: `/articles/${hotArticle().slug}/favorite`, headers: writer(anyUser().id) }),
    "POST /profiles/:username/follow": () => {
      const actor = anyUser();
      let followed = hotUser();
      if (followed.id === actor.id) followed = data.users[(data.users.indexOf(followed) + 1) % data.users.length]!;
      return { method: "POST", path: `/profiles/${followed.username}/follow`, headers: writer(actor.id) };
    },
    "POST /articles/:slug/comments": () => ({
      method: "POST",
      path: `/articles/${hotArticle().slug}/comments`,
      headers: writer(anyUser().id),
      body: JSON.stringify({ comment: { body: `A comment from the load, ${Math.floor(rand() * 1e6)}.` } }),
    }),
    "PUT /articles/:slug": () => ({
      method: "PUT",
      path: `/articles/${hotArticle().slug}`,
      headers: writer(anyUser().id),
      body: JSON.stringify({ article: { title: `Edited title ${++edits}`, description: `Edited description ${Math.floor(rand() * 1e6)}` } }),
    }),
  };
  const routes = (Object.entries(percent) as Array<[Route, number]>).filter(([, p]) => p > 0);
  const total = routes.reduce((sum, [, p]) => sum + p, 0);
  if (Math.abs(total - 100) > 1e-9) throw new Error(`a mix must add up to 100 %, not ${total}`);
  return () => {
    let r = rand() * 100;
    for (const [route, p] of routes) if ((r -= p) < 0) return make[route]();
    return make[routes.at(-1)![0]]();
  };
}

/** Runs the mix against every instance for `duration` seconds; fails on any error or non-2xx answer. */
async function cannon(instances: ApiProcess[], percent: Record<Route, number>, data: Seeded, duration: number, seed: number): Promise<autocannon.Result> {
  const next = mix(percent, mulberry32(seed), data);
  const options = {
    // autocannon takes several URLs and spreads the connections over them
    // round-robin, into one histogram (its README); its types only say string.
    url: instances.map((p) => p.url) as unknown as string,
    connections: CONNECTIONS,
    duration,
    requests: [{ setupRequest: (req) => ({ ...req, ...next() }) }],
  } satisfies autocannon.Options;
  const result = await autocannon(options);
  if (result.errors || result.non2xx || result.timeouts)
    throw new Error(
      `load run failed: ${result.errors} errors, ${result.timeouts} timeouts, ${result.non2xx} non-2xx (${JSON.stringify(result.statusCodeStats)})`,
    );
  return result;
}

/** The cache's counters over the measured run, summed over both instances, from their /metrics scraped before and after. */
function cacheCounters(before: Map<string, number>[], after: Map<string, number>[]): NonNullable<Side["cache"]> {
  const moved = (name: string) => after.reduce((sum, m, i) => sum + (m.get(name) ?? 0) - (before[i]!.get(name) ?? 0), 0);
  const ratio = (hits: number, misses: number) => Number((hits / (hits + misses || 1)).toFixed(3));
  const hitsL1 = moved('prisma_cache_hits_total{tier="l1"}');
  const hitsL2 = moved('prisma_cache_hits_total{tier="l2"}');
  const misses = moved("prisma_cache_misses_total");
  const byOperation: NonNullable<Side["cache"]>["byOperation"] = {};
  const operations = new Set(after.flatMap((m) => [...m.keys()].flatMap((k) => /^prisma_cache_operation_misses_total\{(.*)\}$/.exec(k)?.[1] ?? [])));
  for (const labels of [...operations].sort()) {
    const name = labels.replace(/model="(\w+)",operation="(\w+)"/, "$1.$2");
    const hits = moved(`prisma_cache_operation_hits_total{${labels},tier="l1"}`) + moved(`prisma_cache_operation_hits_total{${labels},tier="l2"}`);
    const opMisses = moved(`prisma_cache_operation_misses_total{${labels}}`);
    byOperation[name] = { hitRatio: ratio(hits, opMisses), misses: opMisses, fillsRefused: moved(`prisma_cache_operation_fills_refused_total{${labels}}`) };
  }
  return {
    hitsL1,
    hitsL2,
    misses,
    hitRatio: ratio(hitsL1 + hitsL2, misses),
    fillsRefused: moved("prisma_cache_fills_refused_total"),
    leaseWaits: moved("prisma_cache_lease_waits_total"),
    coalesced: moved("prisma_cache_coalesced_total"),
    invalidations: moved("prisma_cache_invalidations_total"),
    byOperation,
  };
}

/** Starts two instances, warms them up, measures, and (with the cache) reads their counters from /metrics. */
async function side(options: { cache: boolean; databaseUrl: string; redisUrl: string; namespace: string }, percent: Record<Route, number>, data: Seeded) {
  const instances = await startBlogInstances(2, options);
  try {
    // The warm-up draws other requests than the measured run (another seed), from the same distribution.
    await cannon(instances, percent, data, WARMUP, SEED + 1);
    const before = await Promise.all(instances.map((p) => scrapeMetrics(p.url)));
    const result = await cannon(instances, percent, data, DURATION, SEED);
    const measured: Side = {
      requestsPerSecond: Math.round(result.requests.average),
      latencyMs: { p50: result.latency.p50, p99: result.latency.p99, max: result.latency.max },
      requests: result.requests.total,
    };
    if (options.cache) measured.cache = cacheCounters(before, await Promise.all(instances.map((p) => scrapeMetrics(p.url))));
    return measured;
  } finally {
    await Promise.all(instances.map((p) => p.stop()));
  }
}

/** Deletes every key of `namespace` (a run of its own on a shared Redis). */
async function dropKeys(url: string, namespace: string): Promise<void> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    for await (const keys of redis.scanStream({ match: `${namespace}:*`, count: 1000 })) if ((keys as string[]).length) await redis.del(...(keys as string[]));
  } finally {
    redis.disconnect();
  }
}

const scope = new ServerScope("[blog-api load]");
try {
  const servers = await startServers(scope, "The blog API load script");
  const runId = randomBytes(3).toString("hex");
  const namespace = `blog-api-load:${runId}`;
  scope.defer(() => dropRunDatabases(servers.postgres.url, runId));
  scope.defer(() => dropKeys(servers.redis.url, namespace));
  const template = `ptc_${runId}_blog_seed`;
  const seeded = await seedBlog(await createBlogDatabase(servers.postgres.url, template), SIZES);
  /** A fresh copy of the seeded database, for one side of one mix. */
  const copy = async (name: string) => {
    await withClient(servers.postgres.url, (c) => c.query(`CREATE DATABASE "ptc_${runId}_${name}" TEMPLATE "${template}"`));
    return databaseUrl(servers.postgres.url, `ptc_${runId}_${name}`);
  };
  const postgresVersion = await withClient(servers.postgres.url, async (c) => (await c.query("SHOW server_version")).rows[0].server_version);
  const redisVersion = await (async () => {
    const redis = new Redis(servers.redis.url, { maxRetriesPerRequest: 1 });
    try {
      return /redis_version:(\S+)/.exec(await redis.info("server"))?.[1];
    } finally {
      redis.disconnect();
    }
  })();
  console.log(`postgres ${postgresVersion} (${servers.postgres.source}); redis ${redisVersion} (${servers.redis.source})`);
  console.log(
    `seeded ${seeded.users.length} users, ${seeded.articles.length} articles, ${seeded.tags.length} tags, ${seeded.comments} comments, ` +
      `${seeded.favorites} favorites, ${seeded.follows} follows`,
  );
  console.log(`2 instances, ${CONNECTIONS} connections, ${WARMUP} s warm-up + ${DURATION} s per side`);

  const loadBefore = os.loadavg().map((n) => Number(n.toFixed(2))); // [1, 5, 15 min]: what else ran here
  const row = (name: string, s: Side) =>
    `  ${name.padEnd(14)} ${String(s.requestsPerSecond).padStart(6)} req/s   p50 ${String(s.latencyMs.p50).padStart(3)} ms   p99 ${String(s.latencyMs.p99).padStart(3)} ms`;
  const mixes = [];
  for (const [i, [name, percent]] of Object.entries(MIXES).entries()) {
    console.log(`${name}: ${JSON.stringify(percent)}`);
    const common = { redisUrl: servers.redis.url, namespace: `${namespace}:${i}` };
    const cached = await side({ ...common, cache: true, databaseUrl: await copy(`mix${i}_cached`) }, percent, seeded);
    const c = cached.cache!;
    console.log(`${row("with cache", cached)}   hit ratio ${c.hitRatio} (L1 ${c.hitsL1}, L2 ${c.hitsL2}, misses ${c.misses}), refused fills ${c.fillsRefused}`);
    const plain = await side({ ...common, cache: false, databaseUrl: await copy(`mix${i}_plain`) }, percent, seeded);
    console.log(row("without cache", plain));
    const ratio = Number((cached.requestsPerSecond / plain.requestsPerSecond).toFixed(2));
    console.log(`  requests/s with the cache: ${ratio}x`);
    mixes.push({ name, percent, withCache: cached, withoutCache: plain, ratio });
  }

  const cpus = os.cpus();
  const results = {
    date: new Date().toISOString(),
    machine: {
      cpu: cpus[0]?.model ?? "unknown",
      cores: cpus.length,
      memoryGiB: Math.round(os.totalmem() / 2 ** 30),
      os: `${os.type()} ${os.release()} ${os.arch()}`,
      node: process.version,
      postgres: postgresVersion,
      redis: redisVersion,
      loadAverageBefore: loadBefore,
      loadAverageAfter: os.loadavg().map((n) => Number(n.toFixed(2))),
      note: "load generator, both instances, Postgres and Redis on this one machine",
    },
    instances: 2,
    connections: CONNECTIONS,
    durationSeconds: DURATION,
    warmupSeconds: WARMUP,
    seed: SEED,
    cache: "prismaCache({ redis, ttl: 60 })",
    rows: {
      users: seeded.users.length,
      articles: seeded.articles.length,
      tags: seeded.tags.length,
      comments: seeded.comments,
      favorites: seeded.favorites,
      follows: seeded.follows,
    },
    rowsPicked: {
      reads: `Zipf, s = ${ZIPF_S} (articles newest first, users, tags, feed pages)`,
      readers: `${SIGNED_IN * 100} % signed in (x-user-id, Zipf), the rest anonymous`,
      writes: "by a user picked uniformly, on an article or author picked with Zipf weights",
    },
    mixes,
  };
  writeFileSync(RESULTS, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`wrote ${RESULTS}`);
} finally {
  await scope.close();
}
