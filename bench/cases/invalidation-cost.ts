/**
 * Invalidation cost: latency of one `update` by id through the cached client
 * when 10 entries of the model are cached, against the same write when
 * 100,000 are, in the same run. The design (docs/how-it-works.md, "Versions,
 * not key scans") says a write bumps version counters, so its cost must not
 * grow with the number of cached entries.
 *
 * Setup (untimed):
 *   - 100,003 Post rows (one INSERT ... SELECT generate_series);
 *   - two cached clients on the same PrismaClient, each with its own Redis
 *     namespace: `prismaCache({ ttl: 600, redis, namespace, l1 })`;
 *   - the "10" client caches 10 list reads, the "100k" client 100,000
 *     (`findMany({ where: { id: { gte: i }, views: { gte: 0 } }, orderBy: { id: "asc" }, take: 1 })`,
 *     filled 200 at a time). Each list reads `views`, which the timed update
 *     sets, so every write invalidates all of them: the case that would be
 *     O(entries) in a design that tracks or scans keys;
 *   - verified before timing: the cache's `fills` count, the entry keys in
 *     Redis (SCAN), and a re-read of every query served from L1.
 * Timed: `update({ where: { id }, data: { views: { increment: 1 } } })`,
 * cases interleaved in rounds, plus the same write through the uncached client
 * (the floor: what the write costs without the cache), and that write
 * followed by one EVALSHA that bumps two counters in Redis (the least any
 * cache that invalidates Redis before the write resolves must do).
 * @module
 */
import { deepStrictEqual } from "node:assert/strict";
import { PrismaPg } from "@prisma/adapter-pg";
import { Redis } from "ioredis";
import { PrismaClient } from "../../generated/prisma/client";
import type { BenchEnv } from "../lib/env";
import { ratio, Samples, warmUp } from "../lib/measure";
import { countKeys } from "../lib/redis";
import type { Check, LatencyCase, LatencyGroup } from "../lib/types";

/** Case ids, in display order. */
export const INVALIDATION_COST_CASES = ["small", "large", "uncached", "roundTrip"] as const;
export type InvalidationCostCase = (typeof INVALIDATION_COST_CASES)[number];

/** Knobs of the invalidation-cost group. */
export interface InvalidationCostOptions {
  /** Cached entries of the large case. */
  entries?: number;
  /** Cached entries of the small case. */
  smallEntries?: number;
  /** Timed writes per case, over all rounds. */
  iterations?: number;
  /** Rounds the timed writes are split into; cases are interleaved within each round. */
  rounds?: number;
  /** Reads in flight at once while filling the cache. */
  concurrency?: number;
}

const DEFAULTS: Required<InvalidationCostOptions> = { entries: 100_000, smallEntries: 10, iterations: 1_500, rounds: 10, concurrency: 200 };
/** Untimed writes per case before the first round (JIT). */
const INITIAL_WARMUP = 200;
/** Untimed writes per case before each batch. */
const BATCH_WARMUP = 10;
/** Target: the write with 100k entries cached costs at most this much more than with 10 (medians). */
const MAX_LARGE_OVER_SMALL = 1.2;
/** Target (issue "One read engine"): a cached update costs at most this much more than the uncached one (medians). */
const MAX_CACHED_OVER_UNCACHED = 1.3;
/** The least a Redis-invalidating cache adds to a write: bump two counters, with a ttl, in one script. */
const ROUND_TRIP_SCRIPT = "for i = 1, #KEYS do redis.call('INCR', KEYS[i]) redis.call('PEXPIRE', KEYS[i], ARGV[1]) end return 1";
/** Queries of the large case re-read after the timed writes to show they were invalidated. */
const STALE_SAMPLE = 1_000;

const fmt = (n: number) => n.toLocaleString("en-US");

/** Runs the invalidation-cost group. Disconnects everything it opened. */
export async function invalidationCost(env: BenchEnv, options: InvalidationCostOptions = {}): Promise<LatencyGroup> {
  const started = Date.now();
  const o = { ...DEFAULTS, ...options };
  const { prismaCache } = env.library;
  const url = await env.database("invalidation_cost");
  const plain = new PrismaClient({ adapter: new PrismaPg({ connectionString: url }) });
  const redis = new Redis(env.redisUrl);
  const l1 = { max: 200_000, maxBytes: 512 * 2 ** 20, ttl: 600 };
  // The fill saturates the event loop for seconds; a heartbeat that long keeps L1 served through it (it is not what this group measures).
  const cached = (namespace: string) => plain.$extends(prismaCache({ ttl: 600, redis, namespace, l1, heartbeat: 60_000 }));
  type Cached = ReturnType<typeof cached>;
  const opened: Cached[] = [];
  const checks: Record<string, Check> = {};
  try {
    await plain.$connect();
    // Rows for the list reads to find, plus one row per case to write.
    const rows = o.entries + 3;
    await plain.$executeRawUnsafe(`INSERT INTO "Post" ("title", "published") SELECT 'post ' || g, true FROM generate_series(1, ${rows}) AS g`);
    const firstId = (await plain.post.findFirst({ orderBy: { id: "asc" }, select: { id: true } }))!.id;
    if ((await plain.post.count()) !== rows) throw new Error(`expected ${rows} Post rows`);
    const written: Record<InvalidationCostCase, number> = {
      small: firstId + rows - 1,
      large: firstId + rows - 2,
      uncached: firstId + rows - 3,
      roundTrip: firstId + rows - 3,
    };
    const roundTripSha = (await redis.script("LOAD", ROUND_TRIP_SCRIPT)) as string;
    const roundTripKeys = [`${env.namespace("invalidation-cost-floor")}:a`, `${env.namespace("invalidation-cost-floor")}:b`];

    const ns = { small: env.namespace("invalidation-cost-10"), large: env.namespace("invalidation-cost-100k") };
    const clients = { small: cached(ns.small), large: cached(ns.large) };
    opened.push(clients.small, clients.large);
    // The cache flushes L1 when its bus connects: fill only after that.
    await Promise.all([clients.small.$cache.ready(), clients.large.$cache.ready()]);
    const entries = { small: o.smallEntries, large: o.entries };
    const read = (c: Cached, i: number) => c.post.findMany({ where: { id: { gte: firstId + i }, views: { gte: 0 } }, orderBy: { id: "asc" }, take: 1 });

    /** Runs `read(c, i)` for i in [from, to), `concurrency` at a time. */
    const readAll = async (c: Cached, from: number, to: number) => {
      for (let i = from; i < to; i += o.concurrency) {
        const batch: Promise<unknown>[] = [];
        for (let j = i; j < Math.min(to, i + o.concurrency); j++) batch.push(read(c, j));
        await Promise.all(batch);
      }
    };

    // Fill each client's entries and verify them: fills, Redis entry keys, L1 hits on a full re-read.
    for (const which of ["small", "large"] as const) {
      const c = clients[which];
      const n = entries[which];
      const t0 = Date.now();
      // One read first: it creates the namespace's version counters, which concurrent first fills would race for.
      await read(c, 0);
      await readAll(c, 1, n);
      const filled = c.$cache.stats();
      const fillSeconds = (Date.now() - t0) / 1000;
      const keys = await countKeys(redis, `${ns[which]}:e:*`);
      c.$cache.resetStats();
      await readAll(c, 0, n);
      const reread = c.$cache.stats();
      c.$cache.resetStats();
      const name = fmt(n);
      checks[`${which}Fills`] = {
        label: `${name} entries: fills (misses, refused) after ${fmt(n)} distinct list reads`,
        value: `${fmt(filled.fills)} (${fmt(filled.misses)}, ${filled.fillsRefused})`,
        ok: filled.fills === n && filled.misses === n && filled.fillsRefused === 0,
      };
      checks[`${which}L2`] = { label: `${name} entries: entry keys in Redis (SCAN)`, value: fmt(keys), ok: keys === n };
      checks[`${which}L1`] = {
        label: `${name} entries: L1 hits on a re-read of all of them`,
        value: `${fmt(reread.hits.l1)} (L2 ${reread.hits.l2}, misses ${reread.misses})`,
        ok: reread.hits.l1 === n && reread.misses === 0 && reread.hits.l2 === 0,
      };
      if (which === "large")
        checks.fillTime = { label: `time to fill ${fmt(n)} entries, ${o.concurrency} reads in flight (setup, untimed)`, value: `${fillSeconds.toFixed(1)} s` };
    }
    const failed = Object.values(checks).filter((c) => c.ok === false);
    if (failed.length) throw new Error(`invalidation-cost setup is not what it should be: ${failed.map((c) => `${c.label} = ${c.value}`).join("; ")}`);

    const calls: Record<InvalidationCostCase, () => Promise<unknown>> = {
      small: () => clients.small.post.update({ where: { id: written.small }, data: { views: { increment: 1 } } }),
      large: () => clients.large.post.update({ where: { id: written.large }, data: { views: { increment: 1 } } }),
      uncached: () => plain.post.update({ where: { id: written.uncached }, data: { views: { increment: 1 } } }),
      roundTrip: async () => {
        await plain.post.update({ where: { id: written.roundTrip }, data: { views: { increment: 1 } } });
        await redis.evalsha(roundTripSha, 2, ...roundTripKeys, 604_800_000);
      },
    };

    // The first write of each cached client is the one that turns its entries from fresh to stale: one sample
    // each, after the write path is warm (uncached client, and a third cached client in a namespace of its own).
    const warm = cached(env.namespace("invalidation-cost-warm"));
    opened.push(warm);
    await warm.$cache.ready();
    await warmUp(calls.uncached, INITIAL_WARMUP);
    await warmUp(() => warm.post.update({ where: { id: written.uncached }, data: { views: { increment: 1 } } }), INITIAL_WARMUP);
    const first = { small: new Samples(), large: new Samples() };
    await first.small.time(calls.small, 1);
    await first.large.time(calls.large, 1);
    checks.firstWrite = {
      label: `first write after the fill, all entries fresh (one sample each): ${fmt(o.smallEntries)} vs ${fmt(o.entries)} entries`,
      value: `${first.small.summary().medianUs.toFixed(0)} µs vs ${first.large.summary().medianUs.toFixed(0)} µs`,
    };

    for (const c of INVALIDATION_COST_CASES) await warmUp(calls[c], INITIAL_WARMUP);
    const bumpsBefore = { small: clients.small.$cache.stats().invalidations, large: clients.large.$cache.stats().invalidations };
    const samples = Object.fromEntries(INVALIDATION_COST_CASES.map((c) => [c, new Samples()])) as Record<InvalidationCostCase, Samples>;
    for (let r = 0; r < o.rounds; r++) {
      const order = INVALIDATION_COST_CASES.map((_, i) => INVALIDATION_COST_CASES[(i + r) % INVALIDATION_COST_CASES.length]!);
      for (const c of order) {
        const n = Math.ceil((o.iterations * (r + 1)) / o.rounds) - Math.ceil((o.iterations * r) / o.rounds);
        await warmUp(calls[c], BATCH_WARMUP);
        await samples[c].time(calls[c], n);
      }
    }
    const writesPerClient = o.iterations + o.rounds * BATCH_WARMUP;
    const bumps = {
      small: (clients.small.$cache.stats().invalidations - bumpsBefore.small) / writesPerClient,
      large: (clients.large.$cache.stats().invalidations - bumpsBefore.large) / writesPerClient,
    };

    // After the timed part: the large client's entries are all still in Redis, and reading them goes to the
    // database (each write bumped the version they recorded), with the database's current rows.
    const keysAfter = await countKeys(redis, `${ns.large}:e:*`);
    const before = clients.large.$cache.stats();
    const step = Math.floor(o.entries / STALE_SAMPLE);
    for (let k = 0; k < STALE_SAMPLE; k++) {
      const i = k * step;
      deepStrictEqual(
        await read(clients.large, i),
        await plain.post.findMany({ where: { id: { gte: firstId + i }, views: { gte: 0 } }, orderBy: { id: "asc" }, take: 1 }),
      );
    }
    const after = clients.large.$cache.stats();
    checks.bumps = {
      label: `versions bumped per write (stats().invalidations ÷ writes): ${fmt(o.smallEntries)} vs ${fmt(o.entries)} entries`,
      value: `${bumps.small} vs ${bumps.large}`,
      ok: bumps.small === bumps.large,
    };
    checks.keysAfter = { label: `${fmt(o.entries)} entries: entry keys in Redis after the timed writes`, value: fmt(keysAfter), ok: keysAfter === o.entries };
    checks.stale = {
      label: `${fmt(o.entries)} entries: misses when re-reading ${fmt(STALE_SAMPLE)} of them after the writes (all stale; results = uncached)`,
      value: fmt(after.misses - before.misses),
      ok: after.misses - before.misses === STALE_SAMPLE,
    };

    const labels: Record<InvalidationCostCase, string> = {
      small: `cached update by id, ${fmt(o.smallEntries)} entries of Post cached`,
      large: `cached update by id, ${fmt(o.entries)} entries of Post cached`,
      uncached: "floor: same update through the uncached client (no cache)",
      roundTrip: "floor + one Redis round trip: the plain update, then an EVALSHA bumping two counters",
    };
    const cases = {} as Record<InvalidationCostCase, LatencyCase>;
    for (const c of INVALIDATION_COST_CASES) cases[c] = { label: labels[c], ...samples[c].summary() };
    const medianRatio = ratio(cases.large.medianUs, cases.small.medianUs);
    return {
      kind: "latency",
      title: `Invalidation cost: update by id with ${fmt(o.smallEntries)} vs ${fmt(o.entries)} cached entries of the model`,
      notes: [
        "Each write timed with process.hrtime.bigint(); medians and p99 over all rounds.",
        `${o.rounds} rounds, cases interleaved (order rotated each round), ${INITIAL_WARMUP} warm-up writes per case before the first round and ${BATCH_WARMUP} before each batch.`,
        "Cached clients: plain.$extends(prismaCache({ ttl: 600, redis, namespace, l1: { max: 200_000, maxBytes: 512 MiB, ttl: 600 }, heartbeat: 60_000 })), one namespace each, on the same PrismaClient (adapter-pg) as the floor; the heartbeat is long because the 100,000-entry fill saturates the event loop.",
        "l1.ttl is 600 s rather than the default 5 s so that the entries filled first are still in L1 when the fill ends.",
        `Entries: distinct findMany({ where: { id: { gte: i }, views: { gte: 0 } }, orderBy: { id: "asc" }, take: 1 }) list reads, which read the views field the timed update sets: every write invalidates all of them; the first write of each client (shown once among the checks) turns them stale; they stay held in L1 and L2 for the timed writes.`,
      ],
      cases,
      ratios: {
        largeVsSmall: {
          label: `write cost with ${fmt(o.entries)} entries over ${fmt(o.smallEntries)} (medians)`,
          value: medianRatio,
          target: `≤ ${MAX_LARGE_OVER_SMALL}×`,
          met: medianRatio <= MAX_LARGE_OVER_SMALL,
        },
        largeVsSmallP99: { label: `same, p99s`, value: ratio(cases.large.p99Us, cases.small.p99Us) },
        smallVsFloor: {
          label: "cached write over uncached write (10 entries, medians)",
          value: ratio(cases.small.medianUs, cases.uncached.medianUs),
          target: `≤ ${MAX_CACHED_OVER_UNCACHED}×`,
          met: ratio(cases.small.medianUs, cases.uncached.medianUs) <= MAX_CACHED_OVER_UNCACHED,
        },
        roundTripVsFloor: {
          label: "uncached write + one Redis round trip over uncached write (medians): the part of the ratio above that Redis itself takes",
          value: ratio(cases.roundTrip.medianUs, cases.uncached.medianUs),
        },
        smallVsRoundTrip: {
          label: "cached write over uncached write + one Redis round trip (10 entries, medians): the cache's own cost",
          value: ratio(cases.small.medianUs, cases.roundTrip.medianUs),
        },
        largeVsFloor: {
          label: `cached write over uncached write (${fmt(o.entries)} entries, medians)`,
          value: ratio(cases.large.medianUs, cases.uncached.medianUs),
        },
      },
      targets: {},
      checks,
      seconds: Math.round((Date.now() - started) / 100) / 10,
    };
  } finally {
    for (const c of opened) await c.$cache.close();
    await plain.$disconnect();
    redis.disconnect();
  }
}
