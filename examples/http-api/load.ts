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
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import os from "node:os";
import { fileURLToPath } from "node:url";
import { PrismaPg } from "@prisma/adapter-pg";
import autocannon from "autocannon";
import { Redis } from "ioredis";
import { PrismaClient, Role } from "../../generated/prisma/client";
import { mulberry32 } from "../../test/support/prng";
import { createMigratedDatabase, dropRunDatabases, ServerScope, startServers, withClient } from "../../test/support/servers";
import { type ApiProcess, scrapeMetrics, startInstances } from "./instances";

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

const seconds = (name: string, fallback: number) => {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number`);
  return value;
};
const DURATION = seconds("LOAD_DURATION", 10);
const WARMUP = seconds("LOAD_WARMUP", 2);
const CONNECTIONS = Math.max(2, Math.round(seconds("LOAD_CONNECTIONS", 20) / 2) * 2);
const SEED = Number(process.env.LOAD_SEED ?? 20261201);

/** Ids of the seeded rows. */
interface Ids {
  users: number[];
  posts: number[];
}

/** What one side measured. */
interface Side {
  /** Mean of autocannon's per-second request counts. */
  requestsPerSecond: number;
  latencyMs: { p50: number; p99: number; max: number };
  requests: number;
  /** Cache counters summed over both instances after the measured run (with the cache). */
  cache?: {
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
  };
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

/** A generator of `percent`'s requests, drawn from `rand`: reads pick rows by {@link zipf}, writes uniformly. */
function mix(percent: Record<Route, number>, rand: () => number, ids: Ids): () => autocannon.Request {
  const hotUser = zipf(ids.users, rand);
  const hotPost = zipf(ids.posts, rand);
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
  const routes = (Object.entries(percent) as Array<[Route, number]>).filter(([, p]) => p > 0);
  const total = routes.reduce((sum, [, p]) => sum + p, 0);
  if (total !== 100) throw new Error(`a mix must add up to 100 %, not ${total}`);
  return () => {
    let r = rand() * 100;
    for (const [route, p] of routes) if ((r -= p) < 0) return make[route]();
    return make[routes.at(-1)![0]]();
  };
}

/** Runs the mix against every instance for `duration` seconds; fails on any error or non-2xx answer. */
async function cannon(instances: ApiProcess[], percent: Record<Route, number>, ids: Ids, duration: number): Promise<autocannon.Result> {
  const next = mix(percent, mulberry32(SEED), ids);
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

/** Starts two instances, warms them up, measures, and (with the cache) reads their counters from /metrics. */
async function side(options: { cache: boolean; databaseUrl: string; redisUrl: string; namespace: string }, percent: Record<Route, number>, ids: Ids) {
  const instances = await startInstances(2, options);
  try {
    await cannon(instances, percent, ids, WARMUP);
    const before = await Promise.all(instances.map((p) => scrapeMetrics(p.url)));
    const result = await cannon(instances, percent, ids, DURATION);
    const measured: Side = {
      requestsPerSecond: Math.round(result.requests.average),
      latencyMs: { p50: result.latency.p50, p99: result.latency.p99, max: result.latency.max },
      requests: result.requests.total,
    };
    if (options.cache) {
      const after = await Promise.all(instances.map((p) => scrapeMetrics(p.url)));
      const moved = (name: string) => after.reduce((sum, m, i) => sum + (m.get(name) ?? 0) - (before[i]!.get(name) ?? 0), 0);
      const hitsL1 = moved('prisma_cache_hits_total{tier="l1"}');
      const hitsL2 = moved('prisma_cache_hits_total{tier="l2"}');
      const misses = moved("prisma_cache_misses_total");
      measured.cache = {
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

const scope = new ServerScope("[http-api load]");
try {
  const servers = await startServers(scope, "The HTTP API load script");
  const runId = randomBytes(3).toString("hex");
  const namespace = `http-api-load:${runId}`;
  scope.defer(() => dropRunDatabases(servers.postgres.url, runId));
  scope.defer(() => dropKeys(servers.redis.url, namespace));
  const dbUrl = await createMigratedDatabase(servers.postgres.url, `ptc_${runId}_http_load`);
  const ids = await seed(dbUrl);
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
  console.log(`2 instances, ${CONNECTIONS} connections, ${WARMUP} s warm-up + ${DURATION} s per side`);

  const loadBefore = os.loadavg().map((n) => Number(n.toFixed(2))); // [1, 5, 15 min]: what else ran here
  const row = (name: string, s: Side) =>
    `  ${name.padEnd(14)} ${String(s.requestsPerSecond).padStart(6)} req/s   p50 ${String(s.latencyMs.p50).padStart(3)} ms   p99 ${String(s.latencyMs.p99).padStart(3)} ms`;
  const scenarios = [];
  for (const [i, [name, percent]] of Object.entries(SCENARIOS).entries()) {
    console.log(`${name}: ${JSON.stringify(percent)}`);
    // A namespace per scenario, so that each starts with a cold cache.
    const common = { databaseUrl: dbUrl, redisUrl: servers.redis.url, namespace: `${namespace}:${i}` };
    const cached = await side({ ...common, cache: true }, percent, ids);
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
    rows: { users: USERS, posts: POSTS },
    rowsPicked: { reads: `Zipf, s = ${ZIPF_S}`, writes: "uniformly" },
    scenarios: withShares,
  };
  writeFileSync(RESULTS, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`wrote ${RESULTS}`);
} finally {
  await scope.close();
}
