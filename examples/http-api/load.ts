/**
 * Load comparison of the HTTP API example: two instances (two processes)
 * sharing one Postgres and one Redis, loaded with autocannon, first with the
 * cache and then with the plain PrismaClient (`--no-cache`). Prints
 * requests/s and latency percentiles of each side and writes them to
 * `examples/http-api/results.json`.
 *
 * ```sh
 * npx tsx examples/http-api/load.ts
 * ```
 *
 * - Servers: like the tests (test/support/servers.ts), `DATABASE_URL` /
 *   `REDIS_URL` if set (loopback only), else local `postgres` and
 *   `redis-server` binaries on free loopback ports, else testcontainers. On a
 *   given Postgres it creates a database of its own and drops it afterwards;
 *   on a given Redis it uses a namespace of its own and deletes its keys.
 * - `LOAD_DURATION` (s per side, default 10), `LOAD_WARMUP` (s per side, not
 *   measured, default 2), `LOAD_CONNECTIONS` (default 20, split over the two
 *   instances), `LOAD_SEED` (the request mix's PRNG seed).
 *
 * Three mixes ({@link SCENARIOS}) over {@link USERS} users and {@link POSTS}
 * posts: 95 % reads and 5 % writes, 80 % reads and 20 % writes, then reads
 * only. Each read picks its row
 * from a Zipf distribution (a few hot rows, a long tail), each write
 * uniformly. Everything (load
 * generator, both instances, Postgres, Redis) runs on this machine.
 * @module
 */
import { fileURLToPath } from "node:url";
import { PrismaPg } from "@prisma/adapter-pg";
import type autocannon from "autocannon";
import { PrismaClient, Role } from "../../generated/prisma/client";
import { mulberry32 } from "../../test/support/prng";
import { createMigratedDatabase } from "../../test/support/servers";
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
import { startInstances } from "./instances";

const RESULTS = fileURLToPath(new URL("./results.json", import.meta.url));
/** Users seeded. */
export const USERS = 1_000;
/** Posts seeded. */
export const POSTS = 2_000;
/** The routes of a mix. */
type Route = "GET /users/:id" | "GET /posts/:id (with author)" | "GET /users?role=" | "PATCH /users/:id" | "POST /posts";
/**
 * The mixes, in percent of requests: a read-heavy one with 5 % writes, and
 * the same reads alone. Each scenario runs with and without the cache.
 */
export const SCENARIOS: Record<string, Record<Route, number>> = {
  "read-heavy, 5 % writes": { "GET /users/:id": 50, "GET /posts/:id (with author)": 25, "GET /users?role=": 20, "PATCH /users/:id": 2, "POST /posts": 3 },
  "20 % writes": { "GET /users/:id": 40, "GET /posts/:id (with author)": 24, "GET /users?role=": 16, "PATCH /users/:id": 8, "POST /posts": 12 },
  "reads only": { "GET /users/:id": 55, "GET /posts/:id (with author)": 25, "GET /users?role=": 20, "PATCH /users/:id": 0, "POST /posts": 0 },
};
/** Exponent of the Zipf distribution reads pick their row from: the row of rank k with weight 1/k^s. */
export const ZIPF_S = 1;

const SETTINGS = loadSettings(20261201);

/** Ids of the seeded rows. */
interface Ids {
  users: number[];
  posts: number[];
}

/** Cache counters summed over both instances after the measured run. */
interface CacheCounters {
  hitsL1: number;
  hitsL2: number;
  misses: number;
  hitRatio: number;
  /** Misses that waited for the other instance's regeneration lease, or joined a query in flight in their own. */
  leaseWaits: number;
  coalesced: number;
  /** Fills refused because a write moved a version while the query ran. */
  fillsRefused: number;
  invalidations: number;
}

/** Seeds {@link USERS} users (roles round-robin) and {@link POSTS} posts (authors round-robin); returns their ids. */
async function seed(url: string): Promise<Ids> {
  const prisma = new PrismaClient({ adapter: new PrismaPg({ connectionString: url }) });
  try {
    const roles = Object.values(Role);
    await prisma.user.createMany({
      data: Array.from({ length: USERS }, (_, i) => ({ email: `user${i}@load.example`, name: `User ${i}`, role: roles[i % roles.length]! })),
    });
    const users = (await prisma.user.findMany({ select: { id: true }, orderBy: { id: "asc" } })).map((u) => u.id);
    await prisma.post.createMany({
      data: Array.from({ length: POSTS }, (_, i) => ({ title: `Post ${i}`, content: "x".repeat(200), published: i % 2 === 0, authorId: users[i % USERS]! })),
    });
    const posts = (await prisma.post.findMany({ select: { id: true }, orderBy: { id: "asc" } })).map((p) => p.id);
    return { users, posts };
  } finally {
    await prisma.$disconnect();
  }
}

/** A generator of `percent`'s requests, drawn from `rand`: reads pick rows by {@link zipf}, writes uniformly. */
function mix(percent: Record<Route, number>, rand: () => number, ids: Ids): () => autocannon.Request {
  const hotUser = zipf(ids.users, rand, ZIPF_S);
  const hotPost = zipf(ids.posts, rand, ZIPF_S);
  const anyUser = () => ids.users[Math.floor(rand() * ids.users.length)]!;
  const roles = Object.values(Role);
  const json = { "content-type": "application/json" };
  const make: Record<Route, () => autocannon.Request> = {
    "GET /users/:id": () => ({ method: "GET", path: `/users/${hotUser()}` }),
    "GET /posts/:id (with author)": () => ({ method: "GET", path: `/posts/${hotPost()}` }),
    "GET /users?role=": () => ({ method: "GET", path: `/users?role=${roles[Math.floor(rand() * roles.length)]}` }),
    "PATCH /users/:id": () => ({
      method: "PATCH",
      path: `/users/${anyUser()}`,
      headers: json,
      body: JSON.stringify({ name: `renamed ${Math.floor(rand() * 1e6)}` }),
    }),
    "POST /posts": () => ({
      method: "POST",
      path: "/posts",
      headers: json,
      body: JSON.stringify({ title: `load ${Math.floor(rand() * 1e6)}`, authorId: anyUser() }),
    }),
  };
  return drawRequests(percent, make, rand);
}

/** The cache's counters over the measured run, summed over both instances, from their /metrics scraped before and after. */
function cacheCounters(before: Map<string, number>[], after: Map<string, number>[]): CacheCounters {
  const moved = movedBetween(before, after);
  const hitsL1 = moved('prisma_cache_hits_total{tier="l1"}');
  const hitsL2 = moved('prisma_cache_hits_total{tier="l2"}');
  const misses = moved("prisma_cache_misses_total");
  return {
    hitsL1,
    hitsL2,
    misses,
    hitRatio: Number(((hitsL1 + hitsL2) / (hitsL1 + hitsL2 + misses)).toFixed(3)),
    leaseWaits: moved("prisma_cache_lease_waits_total"),
    coalesced: moved("prisma_cache_coalesced_total"),
    fillsRefused: moved("prisma_cache_fills_refused_total"),
    invalidations: moved("prisma_cache_invalidations_total"),
  };
}

/** Starts two instances, warms them up, measures, and (with the cache) reads their counters from /metrics. */
function side(options: { cache: boolean; databaseUrl: string; redisUrl: string; namespace: string }, percent: Record<Route, number>, ids: Ids) {
  return measureSide(SETTINGS, {
    start: (count) => startInstances(count, options),
    // The warm-up draws the same requests as the measured run (the same seed).
    requests: () => mix(percent, mulberry32(SETTINGS.seed), ids),
    counters: options.cache ? cacheCounters : undefined,
  });
}

await withLoadRun("http-api", "The HTTP API load script", async ({ servers, runId, namespace }) => {
  const dbUrl = await createMigratedDatabase(servers.postgres.url, `ptc_${runId}_http_load`);
  const ids = await seed(dbUrl);
  const versions = await describeServers(servers);
  describeSettings(SETTINGS);

  const loadBefore = loadAverage(); // [1, 5, 15 min]: what else ran here
  const scenarios = [];
  for (const [i, [name, percent]] of Object.entries(SCENARIOS).entries()) {
    console.log(`${name}: ${JSON.stringify(percent)}`);
    // A namespace per scenario, so that each starts with a cold cache.
    const common = { databaseUrl: dbUrl, redisUrl: servers.redis.url, namespace: `${namespace}:${i}` };
    const cached: Side<CacheCounters> = await side({ ...common, cache: true }, percent, ids);
    const c = cached.cache!;
    console.log(`${row("with cache", cached)}   hit ratio ${c.hitRatio} (L1 ${c.hitsL1}, L2 ${c.hitsL2}, misses ${c.misses})`);
    const plain = await side({ ...common, cache: false }, percent, ids);
    console.log(row("without cache", plain));
    const speedup = Number((cached.requestsPerSecond / plain.requestsPerSecond).toFixed(2));
    console.log(`  requests/s with the cache: ${speedup}x`);
    scenarios.push({ name, percent, withCache: cached, withoutCache: plain, speedup });
  }
  // What writes leave of the cache's gain: each mix's ratio as a share of the reads-only ratio of the same run.
  const readsOnly = scenarios.find((s) => s.name === "reads only")?.speedup;
  const withShares = scenarios.map((s) => ({ ...s, shareOfReadsOnly: readsOnly ? Number((s.speedup / readsOnly).toFixed(2)) : undefined }));
  for (const s of withShares) if (s.name !== "reads only") console.log(`${s.name}: ${s.speedup}x, ${s.shareOfReadsOnly} of the reads-only ratio`);

  writeResults(RESULTS, {
    ...resultsHead(SETTINGS, versions, loadBefore),
    rows: { users: USERS, posts: POSTS },
    rowsPicked: { reads: `Zipf, s = ${ZIPF_S}`, writes: "uniformly" },
    scenarios: withShares,
  });
});
