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
import { fileURLToPath } from "node:url";
import type autocannon from "autocannon";
import { mulberry32 } from "../../test/support/prng";
import { databaseUrl, withClient } from "../../test/support/servers";
import {
  describeServers,
  describeSettings,
  loadAverage,
  loadSettings,
  measureSide,
  drawRequests,
  movedBetween,
  resultsHead,
  row,
  type Side,
  withLoadRun,
  writeResults,
  zipf,
} from "../shared/load";
import { USER_HEADER } from "./app";
import { createBlogDatabase, type Seeded, type SeedSizes, seedBlog } from "./database";
import { startBlogInstances } from "./instances";

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

const SETTINGS = loadSettings(20261207);

/** Cache counters summed over both instances over the measured run. */
interface CacheCounters {
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
}

/** A generator of `percent`'s requests, drawn from `rand`. */
function mix(percent: Record<Route, number>, rand: () => number, data: Seeded): () => autocannon.Request {
  const hotArticle = zipf([...data.articles].reverse(), rand, ZIPF_S); // the newest first
  const hotUser = zipf(data.users, rand, ZIPF_S);
  const hotTag = zipf(data.tags, rand, ZIPF_S);
  const hotPage = zipf([0, 1, 2, 3, 4], rand, ZIPF_S);
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
  return drawRequests(percent, make, rand);
}

/** The cache's counters over the measured run, summed over both instances, from their /metrics scraped before and after. */
function cacheCounters(before: Map<string, number>[], after: Map<string, number>[]): CacheCounters {
  const moved = movedBetween(before, after);
  const ratio = (hits: number, misses: number) => Number((hits / (hits + misses || 1)).toFixed(3));
  const hitsL1 = moved('prisma_cache_hits_total{tier="l1"}');
  const hitsL2 = moved('prisma_cache_hits_total{tier="l2"}');
  const misses = moved("prisma_cache_misses_total");
  const byOperation: CacheCounters["byOperation"] = {};
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
function side(options: { cache: boolean; databaseUrl: string; redisUrl: string; namespace: string }, percent: Record<Route, number>, data: Seeded) {
  return measureSide(SETTINGS, {
    start: (count) => startBlogInstances(count, options),
    // The warm-up draws other requests than the measured run (another seed), from the same distribution.
    requests: (phase) => mix(percent, mulberry32(phase === "warm-up" ? SETTINGS.seed + 1 : SETTINGS.seed), data),
    counters: options.cache ? cacheCounters : undefined,
  });
}

await withLoadRun("blog-api", "The blog API load script", async ({ servers, runId, namespace }) => {
  const template = `ptc_${runId}_blog_seed`;
  const seeded = await seedBlog(await createBlogDatabase(servers.postgres.url, template), SIZES);
  /** A fresh copy of the seeded database, for one side of one mix. */
  const copy = async (name: string) => {
    await withClient(servers.postgres.url, (c) => c.query(`CREATE DATABASE "ptc_${runId}_${name}" TEMPLATE "${template}"`));
    return databaseUrl(servers.postgres.url, `ptc_${runId}_${name}`);
  };
  const versions = await describeServers(servers);
  console.log(
    `seeded ${seeded.users.length} users, ${seeded.articles.length} articles, ${seeded.tags.length} tags, ${seeded.comments} comments, ` +
      `${seeded.favorites} favorites, ${seeded.follows} follows`,
  );
  describeSettings(SETTINGS);

  const loadBefore = loadAverage(); // [1, 5, 15 min]: what else ran here
  const mixes = [];
  for (const [i, [name, percent]] of Object.entries(MIXES).entries()) {
    console.log(`${name}: ${JSON.stringify(percent)}`);
    const common = { redisUrl: servers.redis.url, namespace: `${namespace}:${i}` };
    const cached: Side<CacheCounters> = await side({ ...common, cache: true, databaseUrl: await copy(`mix${i}_cached`) }, percent, seeded);
    const c = cached.cache!;
    console.log(`${row("with cache", cached)}   hit ratio ${c.hitRatio} (L1 ${c.hitsL1}, L2 ${c.hitsL2}, misses ${c.misses}), refused fills ${c.fillsRefused}`);
    const plain = await side({ ...common, cache: false, databaseUrl: await copy(`mix${i}_plain`) }, percent, seeded);
    console.log(row("without cache", plain));
    const ratio = Number((cached.requestsPerSecond / plain.requestsPerSecond).toFixed(2));
    console.log(`  requests/s with the cache: ${ratio}x`);
    mixes.push({ name, percent, withCache: cached, withoutCache: plain, ratio });
  }

  writeResults(RESULTS, {
    ...resultsHead(SETTINGS, versions, loadBefore),
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
  });
});
