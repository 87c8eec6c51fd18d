/**
 * Read path: latency of one `findUnique` by id on the same row, served
 *   - from L1 (the cache's in-process tier),
 *   - from L2 (Redis only: `l1: false`),
 *   - by the database (uncached client, adapter-pg),
 *   - and a function wrapped with `prisma.$cache.wrap` (it runs the same
 *     findUnique on the uncached client), from L1: its hit against the
 *     findUnique's L1 hit,
 * against two baselines:
 *   - A, an "ideal Map cache" in a `query.$allModels.$allOperations` hook
 *     (key = model + operation + JSON.stringify(args), Map hit returned
 *     without calling `query`);
 *   - B, a raw ioredis GET of the exact payload the cache stored for that
 *     entry, plus the header split and `decode()` of src/codec.ts.
 * The L1 hit and the uncached query again on MariaDB (adapter-mariadb) and
 * SQLite (adapter-better-sqlite3), each with the client generated for it,
 * so that each database's uncached ÷ L1 ratio is taken in the same run.
 * Cases are interleaved in rounds to spread drift (GC, CPU frequency, other
 * load) evenly over all of them.
 * @module
 */
import { deepStrictEqual } from "node:assert/strict";
import { PrismaPg } from "@prisma/adapter-pg";
import { Redis } from "ioredis";
import { PrismaClient } from "../../generated/prisma/client";
import { newPrismaClient } from "../../test/support/clients";
import { driverAdapter } from "../../test/support/providers";
import type { BenchEnv, OtherDatabase } from "../lib/env";
import { ratio, Samples, warmUp } from "../lib/measure";
import type { LatencyCase, LatencyGroup } from "../lib/types";

/** Case ids, in display order. */
export const READ_PATH_CASES = [
  "l1",
  "wrap",
  "hook",
  "l2",
  "raw",
  "l2Unique",
  "rawUnique",
  "uncached",
  "l1Mariadb",
  "uncachedMariadb",
  "l1Sqlite",
  "uncachedSqlite",
  "noop",
] as const;
export type ReadPathCase = (typeof READ_PATH_CASES)[number];

const LABELS: Record<ReadPathCase, string> = {
  l1: "cached findUnique, L1 hit",
  wrap: "wrapped function (prisma.$cache.wrap), L1 hit",
  hook: "baseline A: Map cache in $allOperations hook",
  l2: "cached findUnique, L2 hit (l1: false)",
  raw: "baseline B: ioredis GET + decode()",
  l2Unique: "cached findUnique by email (a non-primary unique key), L2 hit (l1: false)",
  rawUnique: "baseline B for it: ioredis GET + decode() of that entry",
  uncached: "uncached findUnique (adapter-pg)",
  l1Mariadb: "MariaDB: cached findUnique, L1 hit",
  uncachedMariadb: "MariaDB: uncached findUnique (adapter-mariadb)",
  l1Sqlite: "SQLite: cached findUnique, L1 hit",
  uncachedSqlite: "SQLite: uncached findUnique (adapter-better-sqlite3)",
  noop: "calibration: empty call (timer + await overhead)",
};

/** Knobs of the read-path group. */
export interface ReadPathOptions {
  /** Timed calls per case, over all rounds. */
  iterations?: Partial<Record<ReadPathCase, number>>;
  /** Rounds the timed calls are split into; cases are interleaved within each round. */
  rounds?: number;
}

const DEFAULT_ITERATIONS: Record<ReadPathCase, number> = {
  l1: 20_000,
  wrap: 20_000,
  hook: 20_000,
  l2: 10_000,
  raw: 10_000,
  l2Unique: 10_000,
  rawUnique: 10_000,
  uncached: 2_000,
  l1Mariadb: 20_000,
  uncachedMariadb: 2_000,
  l1Sqlite: 20_000,
  uncachedSqlite: 2_000,
  noop: 20_000,
};
/** Untimed calls per case before the first round (JIT). */
const INITIAL_WARMUP: Record<ReadPathCase, number> = {
  l1: 5_000,
  wrap: 5_000,
  hook: 5_000,
  l2: 1_000,
  raw: 1_000,
  l2Unique: 1_000,
  rawUnique: 1_000,
  uncached: 200,
  l1Mariadb: 5_000,
  uncachedMariadb: 200,
  l1Sqlite: 5_000,
  uncachedSqlite: 200,
  noop: 5_000,
};
/** Untimed calls per case before each batch. */
const BATCH_WARMUP: Record<ReadPathCase, number> = {
  l1: 50,
  wrap: 50,
  hook: 50,
  l2: 20,
  raw: 20,
  l2Unique: 20,
  rawUnique: 20,
  uncached: 10,
  l1Mariadb: 50,
  uncachedMariadb: 10,
  l1Sqlite: 50,
  uncachedSqlite: 10,
  noop: 50,
};

/** Targets of the read path (docs/benchmarks.md says whether each is met). */
const L1_MEDIAN_MAX_US = 2;
const L1_MIN_SPEEDUP_OVER_HOOK = 10;
const L2_MAX_OVER_RAW = 1.3;
/** Issue 22: a wrapped function's L1 hit costs at most this many times a findUnique's. */
const WRAP_MAX_OVER_L1 = 1.5;

/**
 * The body of a stored entry (what a reader must do with the stored payload):
 * `ptc1|<fresh>|<stale>|<delta>|<versions>|<body>`, or
 * `ptc2|<fresh>|<stale>|<delta>|<header length>|<header><body>` (entries that
 * record their own dependencies, e.g. a findUnique by id with row-level dependencies).
 */
function bodyOf(raw: string): string {
  let at = 0;
  for (let i = 0; i < 5; i++) {
    const next = raw.indexOf("|", at);
    if (next < 0) throw new Error(`unexpected L2 payload format: ${raw.slice(0, 40)}`);
    if (i === 4) {
      if (raw.startsWith("ptc1|")) return raw.slice(next + 1);
      if (raw.startsWith("ptc2|")) return raw.slice(next + 1 + Number(raw.slice(at, next)));
    }
    at = next + 1;
  }
  throw new Error(`unexpected L2 payload format: ${raw.slice(0, 40)}`);
}

/** The same User row on another database: an uncached client and a cached one (L1 + Redis), each of the client generated for it. */
async function onOtherDatabase(env: BenchEnv, kind: OtherDatabase, redis: Redis, namespace: string) {
  const { url, description } = await env.databaseOn(kind, "read_path");
  const plain = newPrismaClient(kind, { adapter: driverAdapter(url) });
  await plain.$connect();
  const user = await plain.user.create({ data: { email: "bench@example.com", name: "Bench User", role: "EDITOR" } });
  const cached = plain.$extends(env.library.prismaCache({ ttl: 60, redis, namespace: `${namespace}:${kind}` }));
  const args = { where: { id: user.id } };
  const expected = await plain.user.findUnique(args);
  deepStrictEqual(await cached.user.findUnique(args), expected);
  return {
    description,
    plain,
    cached,
    expected,
    l1: () => cached.user.findUnique(args),
    uncached: () => plain.user.findUnique(args),
  };
}

/** Runs the read-path group. Disconnects everything it opened. */
export async function readPath(env: BenchEnv, options: ReadPathOptions = {}): Promise<LatencyGroup> {
  const started = Date.now();
  const { prismaCache, decode } = env.library;
  const iterations = { ...DEFAULT_ITERATIONS, ...options.iterations };
  const rounds = options.rounds ?? 10;
  const url = await env.database("read_path");
  const namespace = env.namespace("read-path");

  const plain = new PrismaClient({ adapter: new PrismaPg({ connectionString: url }) });
  const redis = new Redis(env.redisUrl);
  const others: Array<{ plain: { $disconnect(): Promise<void> } }> = [];
  try {
    const mariadb = await onOtherDatabase(env, "mysql", redis, namespace);
    others.push(mariadb);
    const sqlite = await onOtherDatabase(env, "sqlite", redis, namespace);
    others.push(sqlite);
    const mariadbVersion = ((await mariadb.plain.$queryRawUnsafe("SELECT VERSION() AS v")) as Array<{ v: string }>)[0]?.v ?? "unknown";
    await plain.$connect();
    const user = await plain.user.create({ data: { email: "bench@example.com", name: "Bench User", role: "EDITOR" } });
    const id = user.id;

    const l1Client = plain.$extends(prismaCache({ ttl: 60, redis, namespace }));
    const l2Client = plain.$extends(prismaCache({ ttl: 60, redis, namespace, l1: false }));
    // The same lookup as a wrapped function, depending on the User model.
    const userById = l1Client.$cache.wrap(async (userId: number) => plain.user.findUnique({ where: { id: userId } }), { models: ["User"] });

    const map = new Map<string, unknown>();
    const hookClient = plain.$extends({
      query: {
        $allModels: {
          async $allOperations({ model, operation, args, query }) {
            const key = model + operation + JSON.stringify(args);
            const hit = map.get(key);
            if (hit !== undefined) return hit;
            const result = await query(args);
            map.set(key, result);
            return result;
          },
        },
      },
    });

    // Fill L2 and L1 (one database read), then copy the stored entry's payload for baseline B.
    const expected = await plain.user.findUnique({ where: { id } });
    deepStrictEqual(await l1Client.user.findUnique({ where: { id } }), expected);
    const [, entryKeys] = await redis.scan("0", "MATCH", `${namespace}:e:*`, "COUNT", 1000);
    if (entryKeys.length !== 1) throw new Error(`expected exactly one cache entry in Redis, found ${entryKeys.length}`);
    const stored = await redis.get(entryKeys[0]!);
    if (stored === null) throw new Error("the cache entry vanished from Redis");
    const rawKey = `${namespace}:bench:raw`;
    await redis.set(rawKey, stored);
    // The same for a lookup by email: its entry records the row it found (ptc2).
    const email = { where: { email: user.email } };
    deepStrictEqual(await l1Client.user.findUnique(email), expected);
    const [, bothKeys] = await redis.scan("0", "MATCH", `${namespace}:e:*`, "COUNT", 1000);
    const uniqueKeys = bothKeys.filter((k) => k !== entryKeys[0]);
    if (uniqueKeys.length !== 1) throw new Error(`expected exactly one cache entry for the email lookup, found ${uniqueKeys.length}`);
    const storedUnique = await redis.get(uniqueKeys[0]!);
    if (storedUnique === null) throw new Error("the email lookup's entry vanished from Redis");
    const rawUniqueKey = `${namespace}:bench:raw-unique`;
    await redis.set(rawUniqueKey, storedUnique);

    const calls: Record<ReadPathCase, () => Promise<unknown>> = {
      l1: () => l1Client.user.findUnique({ where: { id } }),
      wrap: () => userById(id),
      hook: () => hookClient.user.findUnique({ where: { id } }),
      l2: () => l2Client.user.findUnique({ where: { id } }),
      raw: async () => decode(bodyOf((await redis.get(rawKey))!)),
      l2Unique: () => l2Client.user.findUnique(email),
      rawUnique: async () => decode(bodyOf((await redis.get(rawUniqueKey))!)),
      uncached: () => plain.user.findUnique({ where: { id } }),
      l1Mariadb: mariadb.l1,
      uncachedMariadb: mariadb.uncached,
      l1Sqlite: sqlite.l1,
      uncachedSqlite: sqlite.uncached,
      noop: async () => undefined,
    };
    const expectedOf = (c: ReadPathCase) => (c.endsWith("Mariadb") ? mariadb.expected : c.endsWith("Sqlite") ? sqlite.expected : expected);
    for (const c of READ_PATH_CASES) if (c !== "noop") deepStrictEqual(await calls[c](), expectedOf(c), `case ${c} returns a different value`);

    // Calls of the L1/L2 cases that the cache's own counters attribute to the intended tier.
    type Stats = { $cache: { stats(): { hits: { l1: number; l2: number } } } };
    const tierOf: Partial<Record<ReadPathCase, { client: Stats; tier: "l1" | "l2" }>> = {
      l1: { client: l1Client, tier: "l1" },
      wrap: { client: l1Client, tier: "l1" },
      l2: { client: l2Client, tier: "l2" },
      l2Unique: { client: l2Client, tier: "l2" },
      l1Mariadb: { client: mariadb.cached, tier: "l1" },
      l1Sqlite: { client: sqlite.cached, tier: "l1" },
    };
    const served: Partial<Record<ReadPathCase, number>> = {};

    for (const c of READ_PATH_CASES) await warmUp(calls[c], INITIAL_WARMUP[c]);
    const samples = Object.fromEntries(READ_PATH_CASES.map((c) => [c, new Samples()])) as Record<ReadPathCase, Samples>;
    for (let r = 0; r < rounds; r++) {
      // Rotate the order each round so no case always runs right after another.
      const order = READ_PATH_CASES.map((_, i) => READ_PATH_CASES[(i + r) % READ_PATH_CASES.length]!);
      for (const c of order) {
        const n = Math.ceil((iterations[c] * (r + 1)) / rounds) - Math.ceil((iterations[c] * r) / rounds);
        await warmUp(calls[c], BATCH_WARMUP[c]);
        const tier = tierOf[c];
        const before = tier ? tier.client.$cache.stats().hits[tier.tier] : 0;
        await samples[c].time(calls[c], n);
        if (tier) served[c] = (served[c] ?? 0) + tier.client.$cache.stats().hits[tier.tier] - before;
      }
    }

    const cases = {} as Record<ReadPathCase, LatencyCase>;
    for (const c of READ_PATH_CASES) {
      const summary = samples[c].summary();
      cases[c] = { label: LABELS[c], ...summary };
      const tier = tierOf[c];
      if (tier) cases[c].servedBy = { tier: tier.tier, calls: served[c] ?? 0, ok: served[c] === summary.iterations };
    }
    const l1 = cases.l1.medianUs;
    const speedup = ratio(cases.hook.medianUs, l1);
    const l2OverRaw = ratio(cases.l2.medianUs, cases.raw.medianUs);
    const l2UniqueOverRaw = ratio(cases.l2Unique.medianUs, cases.rawUnique.medianUs);
    const wrapOverL1 = ratio(cases.wrap.medianUs, l1);
    return {
      kind: "latency",
      title: "Read path: findUnique by id (and by email), one User row",
      notes: [
        "Each call timed with process.hrtime.bigint(); medians and p99 over all rounds; times include the timer overhead shown by the calibration row.",
        `${rounds} rounds, cases interleaved (order rotated each round), warm-ups before the first round and before each batch.`,
        "Cached clients: prisma.$extends(prismaCache({ ttl: 60, redis, namespace })), the L2 one with l1: false.",
        'The wrapped function is prisma.$cache.wrap(async (userId) => plain.user.findUnique({ where: { id: userId } }), { models: ["User"] }) on the L1 client, called with the same id.',
        "Baseline B times GET of the stored entry's exact payload (copied to its own key), splitting off the entry header (ptc1 or ptc2), and decode().",
        `MariaDB ${mariadbVersion} (${mariadb.description}) and SQLite (${sqlite.description}) get the same User row and the same cached client options, ` +
          "each with the Prisma client generated for it (generated/prisma-mysql, generated/prisma-sqlite).",
      ],
      cases,
      ratios: {
        l1VsHook: {
          label: "L1 speed-up over baseline A (hook median ÷ L1 median)",
          value: speedup,
          target: `≥ ${L1_MIN_SPEEDUP_OVER_HOOK}×`,
          met: speedup >= L1_MIN_SPEEDUP_OVER_HOOK,
        },
        l2VsRaw: {
          label: "L2 cost over baseline B (L2 median ÷ GET+decode median)",
          value: l2OverRaw,
          target: `≤ ${L2_MAX_OVER_RAW}×`,
          met: l2OverRaw <= L2_MAX_OVER_RAW,
        },
        l2UniqueVsRaw: {
          label: "L2 cost by a non-primary unique key over its baseline B (medians)",
          value: l2UniqueOverRaw,
          target: `≤ ${L2_MAX_OVER_RAW}×`,
          met: l2UniqueOverRaw <= L2_MAX_OVER_RAW,
        },
        wrapVsL1: {
          label: "A wrapped function's L1 hit over a findUnique's (wrapped median ÷ L1 median)",
          value: wrapOverL1,
          target: `≤ ${WRAP_MAX_OVER_L1}×`,
          met: wrapOverL1 <= WRAP_MAX_OVER_L1,
        },
        uncachedVsL1: { label: "L1 speed-up over the database (uncached ÷ L1)", value: ratio(cases.uncached.medianUs, l1) },
        uncachedVsL2: { label: "L2 speed-up over the database (uncached ÷ L2)", value: ratio(cases.uncached.medianUs, cases.l2.medianUs) },
        uncachedVsL1Mariadb: {
          label: "MariaDB: L1 speed-up over the database (uncached ÷ L1)",
          value: ratio(cases.uncachedMariadb.medianUs, cases.l1Mariadb.medianUs),
        },
        uncachedVsL1Sqlite: {
          label: "SQLite: L1 speed-up over the database (uncached ÷ L1)",
          value: ratio(cases.uncachedSqlite.medianUs, cases.l1Sqlite.medianUs),
        },
      },
      targets: {
        l1Median: { label: "L1 hit median", value: l1, target: `≤ ${L1_MEDIAN_MAX_US} µs`, met: l1 <= L1_MEDIAN_MAX_US },
      },
      seconds: Math.round((Date.now() - started) / 100) / 10,
    };
  } finally {
    for (const o of others) await o.plain.$disconnect();
    await plain.$disconnect();
    redis.disconnect();
  }
}
