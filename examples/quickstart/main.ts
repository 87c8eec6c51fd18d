/**
 * prisma-tiered-cache quick start: `npm run demo`.
 *
 * Runs on an embedded Postgres (PGlite) with the in-process tier (L1). Set
 * REDIS_URL (e.g. `REDIS_URL=redis://127.0.0.1:6379 npm run demo`) to add
 * Redis as the shared tier (L2).
 */
import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { prismaCache, type CacheStats } from "../../src/index"; // in your app: from "prisma-tiered-cache"
import { createClient, createDatabase, seed } from "./db";

const RUNS = 200; // warm runs per query; the median is reported

const redis = process.env.REDIS_URL ? new Redis(process.env.REDIS_URL) : undefined;
redis?.on("error", () => {}); // if Redis is down, reads go to the database; stats().redisErrors counts it
const namespace = `quickstart:${randomBytes(4).toString("hex")}`; // fresh keys in Redis on every run

const pglite = await createDatabase();
const base = createClient(pglite);
const ids = await seed(base);

// The cache wraps the client: reads are cached for 60 s, writes invalidate exactly what they change.
const prisma = base.$extends(prismaCache({ ttl: 60, redis, namespace }));
// With Redis, a second client (think: another server) that has no L1, so its hits come from Redis.
const other = redis ? createClient(pglite).$extends(prismaCache({ ttl: 60, redis, namespace, l1: false })) : undefined;

/** Which tier answered, from the change in the stats counters. */
function tier(before: CacheStats, after: CacheStats): string {
  if (after.hits.l1 > before.hits.l1) return "L1 (memory)";
  if (after.hits.l2 > before.hits.l2) return "L2 (Redis)";
  if (after.misses > before.misses) return "database (miss)";
  return "database (bypass)";
}

/** Runs `fn` once; returns its value, its latency in µs and the tier that served it. */
async function measure<T>(client: { $cache: { stats(): CacheStats } }, fn: () => PromiseLike<T>) {
  const before = client.$cache.stats();
  const start = process.hrtime.bigint();
  const value = await fn();
  const us = Number(process.hrtime.bigint() - start) / 1000;
  return { value, us, tier: tier(before, client.$cache.stats()) };
}

/** Median latency in µs of `RUNS` calls. */
async function median(client: { $cache: { stats(): CacheStats } }, fn: () => PromiseLike<unknown>) {
  const times: number[] = [];
  let last = "";
  for (let i = 0; i < RUNS; i++) ({ us: times[i]!, tier: last } = await measure(client, fn));
  return { us: times.sort((a, b) => a - b)[RUNS >> 1]!, tier: last };
}

const us = (n: number) => `${n < 100 ? n.toFixed(1) : Math.round(n)} µs`.padStart(11);

// Every query kind the cache answers. `cache: false` (the argument) bypasses it for one call.
type Cache = false | undefined;
const queries: Record<string, (cache?: Cache) => PromiseLike<unknown>> = {
  "post.findUnique by id": (cache) => prisma.post.findUnique({ where: { id: ids.post.id }, cache }),
  "user.findUnique by email": (cache) => prisma.user.findUnique({ where: { email: ids.alice.email }, cache }),
  "sample.findUnique compound": (cache) => prisma.sample.findUnique({ where: { tenant_slug: { tenant: "acme", slug: "alpha" } }, cache }),
  "post.findMany + include": (cache) => prisma.post.findMany({ where: { published: true }, include: { author: true, tags: true, comments: true }, cache }),
  "post.count": (cache) => prisma.post.count({ where: { published: true }, cache }),
  "post.aggregate": (cache) => prisma.post.aggregate({ _sum: { views: true }, _avg: { views: true }, cache }),
  "post.groupBy": (cache) => prisma.post.groupBy({ by: ["published"], _count: { _all: true }, orderBy: { published: "asc" }, cache }),
};
// The same queries on the Redis-only client.
const otherQueries: Record<string, () => PromiseLike<unknown>> = other
  ? {
      "post.findUnique by id": () => other.post.findUnique({ where: { id: ids.post.id } }),
      "user.findUnique by email": () => other.user.findUnique({ where: { email: ids.alice.email } }),
      "sample.findUnique compound": () => other.sample.findUnique({ where: { tenant_slug: { tenant: "acme", slug: "alpha" } } }),
      "post.findMany + include": () => other.post.findMany({ where: { published: true }, include: { author: true, tags: true, comments: true } }),
      "post.count": () => other.post.count({ where: { published: true } }),
      "post.aggregate": () => other.post.aggregate({ _sum: { views: true }, _avg: { views: true } }),
      "post.groupBy": () => other.post.groupBy({ by: ["published"], _count: { _all: true }, orderBy: { published: "asc" } }),
    }
  : {};

try {
  console.log(
    `prisma-tiered-cache quick start: PGlite + L1${redis ? ` + L2 (Redis ${process.env.REDIS_URL}, namespace ${namespace})` : " (set REDIS_URL to add Redis)"}`,
  );
  console.log(`Latencies: cold = first call; others = median of ${RUNS} calls. Speedup = no cache / warm.\n`);
  const header = ["query".padEnd(28), "cold".padStart(11), "no cache".padStart(11), "warm".padStart(11), "speedup".padStart(8), "  warm served by"];
  if (other) header.splice(4, 0, "L2 only".padStart(11));
  console.log(header.join(" "));
  for (const [name, run] of Object.entries(queries)) {
    const cold = await measure(prisma, () => run()); // miss: goes to PGlite, then fills L1 (and L2)
    const uncached = await median(prisma, () => run(false)); // cache: false, for comparison
    const warm = await median(prisma, () => run()); // hits
    const row = [name.padEnd(28), us(cold.us), us(uncached.us), us(warm.us), `${(uncached.us / warm.us).toFixed(0)}x`.padStart(8), `  ${warm.tier}`];
    if (other) row.splice(4, 0, us((await median(other, otherQueries[name]!)).us)); // served by Redis
    console.log(row.join(" "));
  }

  // A write invalidates exactly the cached reads that depend on it: the next read is a miss with the new data.
  const readPost = () => prisma.post.findUnique({ where: { id: ids.post.id }, select: { title: true } });
  console.log(`\nbefore write:      title=${JSON.stringify((await readPost())?.title)}`);
  await prisma.post.update({ where: { id: ids.post.id }, data: { title: "Hello, fresh cache" } });
  console.log(`after post.update:`);
  for (const label of ["1st read", "2nd read"]) {
    const r = await measure(prisma, readPost);
    console.log(`  ${label}:        title=${JSON.stringify(r.value?.title)} served by ${r.tier} in ${us(r.us).trim()}`);
  }
  if (other) {
    // The other client sees the write too: its L2 entry was refilled by the read above.
    const r = await measure(other, () => other.post.findUnique({ where: { id: ids.post.id }, select: { title: true } }));
    console.log(`  other client:    title=${JSON.stringify(r.value?.title)} served by ${r.tier} in ${us(r.us).trim()}`);
  }

  const line = (s: CacheStats) =>
    `hits L1=${s.hits.l1} L2=${s.hits.l2}, misses=${s.misses}, bypasses=${s.bypasses}, fills=${s.fills}, invalidations=${s.invalidations}, redisErrors=${s.redisErrors}`;
  console.log(`\nprisma.$cache.stats():`);
  console.log(`  main client:     ${line(prisma.$cache.stats())}`);
  if (other) console.log(`  other client:    ${line(other.$cache.stats())}`);
} finally {
  // Close everything so the process exits by itself.
  await prisma.$disconnect();
  await other?.$disconnect();
  await pglite.close();
  if (redis?.status === "ready") {
    // Drop this run's keys (a real app keeps one namespace; version counters never expire).
    for await (const keys of redis.scanStream({ match: `${namespace}:*`, count: 1000 })) if (keys.length) await redis.del(...(keys as string[]));
    await redis.quit();
  } else redis?.disconnect();
}
