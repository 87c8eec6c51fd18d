/**
 * Warm start: the first reads of a new process, each process started cold
 * (its own OS process, bench/lib/warm-child.ts):
 *   - `top`: started with `warm: { top }`, after `$cache.ready()`: its L1
 *     holds the namespace's most read entries, loaded from Redis;
 *   - `warm`: a process that already read every key of the mix (the target
 *     of a warm start: everything in L1, its code warmed up);
 *   - `cold`: started without the option: its first reads go to Redis.
 * Each times the same first {@link DEFAULTS}.reads reads of a zipf mix over
 * {@link DEFAULTS}.keys distinct reads (3 in 4 a `findUnique` of a User by
 * id, 1 in 4 a `findMany` of a user's posts). Before the first round, a
 * seed process reads every key once (Redis holds every entry) and then
 * plays the mix, counted by sampling as every process with `warm` does.
 * The roles alternate over the rounds, each round with a sequence of its
 * own; the samples of a role are pooled over the rounds.
 * @module
 */
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { PrismaPg } from "@prisma/adapter-pg";
import { PrismaClient } from "../../generated/prisma/client";
import type { BenchEnv } from "../lib/env";
import { ratio, Samples } from "../lib/measure";
import type { LatencyCase, LatencyGroup } from "../lib/types";
import type { WarmChildConfig, WarmChildResult } from "../lib/warm-child";

/** Case ids, in display order. */
const CASES = ["top", "warm", "cold"] as const;
type WarmCase = (typeof CASES)[number];

const LABELS: Record<WarmCase, string> = {
  top: "new process, warm: { top } (after ready())",
  warm: "warm process (had read every key)",
  cold: "new process, no warm start",
};

/** The knobs of the group. */
const DEFAULTS = {
  /** Distinct reads in the mix (and User rows). */
  keys: 2_000,
  exponent: 1,
  /** `warm.top`: half the distinct reads (about nine reads in ten of the mix). */
  top: 1_000,
  /** Reads timed per process. */
  reads: 1_000,
  /** Reads of the mix the seed process plays (counted by sampling, 1 in 16). */
  seedReads: 200_000,
  /** Processes per role. */
  rounds: 10,
  ttl: 600,
};

/** Target (issue: cold-start p50 of a process warmed with `top` over its first 1,000 reads ÷ a warm process's). */
const TOP_OVER_WARM_MAX = 1.2;

/** Runs bench/lib/warm-child.ts once and returns what it measured. */
function child(config: WarmChildConfig): Promise<WarmChildResult> {
  const script = fileURLToPath(new URL("../lib/warm-child.ts", import.meta.url));
  const proc = fork(script, [JSON.stringify(config)], { execArgv: ["--import", "tsx"], stdio: ["ignore", "inherit", "inherit", "ipc"] });
  return new Promise((resolve, reject) => {
    let result: WarmChildResult | undefined;
    proc.once("message", (m) => (result = m as WarmChildResult));
    proc.once("error", reject);
    proc.once("exit", (code) => (code === 0 && result ? resolve(result) : reject(new Error(`warm-child (${config.role}) exited with ${code}`))));
  });
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
};

/** Runs the warm-start group. */
export async function warmStart(env: BenchEnv): Promise<LatencyGroup> {
  const started = Date.now();
  const o = DEFAULTS;
  const url = await env.database("warm_start");
  const namespace = env.namespace("warm-start");
  const plain = new PrismaClient({ adapter: new PrismaPg({ connectionString: url }) });
  let userIds: number[];
  try {
    await plain.user.createMany({ data: Array.from({ length: o.keys }, (_, i) => ({ email: `warm${i}@example.com`, name: `User ${i}` })) });
    userIds = (await plain.user.findMany({ select: { id: true }, orderBy: { id: "asc" } })).map((u) => u.id);
    // Two posts for each author a list reads (keys 3, 7, 11, ...: users 0 .. keys/4 - 1).
    await plain.post.createMany({
      data: userIds.slice(0, o.keys / 4).flatMap((authorId, i) => [0, 1].map((j) => ({ title: `Post ${i}.${j}`, authorId, published: j === 0 }))),
    });
  } finally {
    await plain.$disconnect();
  }

  const config = (role: WarmChildConfig["role"], seed: number, reads: number): WarmChildConfig => ({
    indexUrl: env.library.indexUrl,
    databaseUrl: url,
    redisUrl: env.redisUrl,
    namespace,
    role,
    userIds,
    keys: o.keys,
    exponent: o.exponent,
    seed,
    reads,
    top: o.top,
    ttl: o.ttl,
  });
  const seeded = await child(config("seed", 1, o.seedReads));

  const samples = Object.fromEntries(CASES.map((c) => [c, new Samples()])) as Record<WarmCase, Samples>;
  const served = Object.fromEntries(CASES.map((c) => [c, { l1: 0, l2: 0, misses: 0 }])) as Record<WarmCase, { l1: number; l2: number; misses: number }>;
  const warmed: number[] = [];
  const readyMs: Record<WarmCase, number[]> = { top: [], warm: [], cold: [] };
  const p50s: Record<WarmCase, number[]> = { top: [], warm: [], cold: [] };
  for (let r = 0; r < o.rounds; r++) {
    const order = CASES.map((_, i) => CASES[(i + r) % CASES.length]!);
    for (const c of order) {
      const out = await child(config(c, 100 + r, o.reads));
      samples[c].add(out.ns);
      served[c].l1 += out.l1;
      served[c].l2 += out.l2;
      served[c].misses += out.misses;
      readyMs[c].push(out.readyMs);
      p50s[c].push(median(out.ns) / 1000);
      if (c === "top") warmed.push(out.warmed);
    }
  }

  const cases = {} as Record<WarmCase, LatencyCase>;
  for (const c of CASES) cases[c] = { label: LABELS[c], ...samples[c].summary() };
  const topOverWarm = ratio(cases.top.medianUs, cases.warm.medianUs);
  const reads = o.reads * o.rounds;
  const share = (c: WarmCase) =>
    `${Math.round((served[c].l1 / reads) * 1000) / 10} % L1, ${Math.round((served[c].l2 / reads) * 1000) / 10} % L2, ${served[c].misses} misses`;
  const fmt = (xs: readonly number[]) => xs.map((x) => Math.round(x * 10) / 10).join(", ");
  return {
    kind: "latency",
    title: `Warm start: p50 of a new process's first ${o.reads.toLocaleString("en-US")} reads (zipf ${o.exponent} over ${o.keys.toLocaleString("en-US")} reads)`,
    notes: [
      "Each case is its own OS process, started cold (node --import tsx, the built library), with prismaCache({ redis, ttl, namespace }) on adapter-pg.",
      `Mix: a seeded zipf ${o.exponent} over ${o.keys} distinct reads, ranks mapped to reads in a fixed random order; 3 in 4 are user.findUnique by id, 1 in 4 post.findMany of a user's posts.`,
      `Before the first round one seed process (warm: { top: 0 }, counting 1 read in 16) read every key once, then ${o.seedReads.toLocaleString("en-US")} reads of the mix.`,
      `top: warm: { top: ${o.top} }, timed after $cache.ready(). warm: warm: { top: 0 } (counting too), timed after reading every key once. cold: no warm option.`,
      `${o.rounds} processes per case, roles alternating, each round with a sequence of its own; every timed read pooled per case (medians and p99 over ${reads.toLocaleString("en-US")} reads).`,
    ],
    cases,
    ratios: {
      topVsWarm: {
        label: `Cold-start p50 warmed with top ÷ a warm process's, first ${o.reads.toLocaleString("en-US")} reads`,
        value: topOverWarm,
        target: `≤ ${TOP_OVER_WARM_MAX}×`,
        met: topOverWarm <= TOP_OVER_WARM_MAX,
      },
      coldVsWarm: { label: "Cold-start p50 without a warm start ÷ a warm process's", value: ratio(cases.cold.medianUs, cases.warm.medianUs) },
    },
    targets: {},
    checks: {
      seeded: {
        label: "Seed process: members in the namespace's read counts",
        value: `${seeded.hotMembers} (of ${o.keys} reads; at most max(1000, 10 × top) kept)`,
        ok: seeded.hotMembers >= o.top,
      },
      warmed: {
        label: `top: entries loaded at start (stats().warmed, per process)`,
        value: fmt(warmed),
        ok: warmed.every((w) => w >= Math.min(o.top, seeded.hotMembers)),
      },
      readyTop: { label: "top: ms from the client's creation to ready() (per process)", value: fmt(readyMs.top) },
      readyCold: { label: "cold: ms from the client's creation to ready() (per process)", value: fmt(readyMs.cold) },
      servedTop: { label: "top: timed reads served by", value: share("top") },
      servedWarm: { label: "warm: timed reads served by", value: share("warm"), ok: served.warm.l1 === reads },
      servedCold: { label: "cold: timed reads served by", value: share("cold") },
      p50s: {
        label: "p50 per process, µs (top | warm | cold)",
        value: `${fmt(p50s.top)} | ${fmt(p50s.warm)} | ${fmt(p50s.cold)}`,
      },
    },
    seconds: Math.round((Date.now() - started) / 100) / 10,
  };
}
