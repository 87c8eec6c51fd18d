/**
 * Production Redis: the cache on a Redis Cluster (three masters) against the
 * same on one Redis, in the same run; how soon a process stops serving L1
 * when its bus stops delivering; and what an entry and a version counter
 * cost in Redis memory.
 *
 * Setup (untimed): one User row; on each topology a cached client with L1
 * and one with `l1: false`, each filled by one read; a three-master cluster
 * started by the bench (test/support/redis-cluster.ts).
 * Timed:
 *   - L1 and L2 hits of `findUnique` by id, on one Redis and on the cluster,
 *     interleaved in rounds;
 *   - bus lag: from `CLIENT KILL` of the subscriber connection, and from a
 *     network that goes silent (a proxy that stops forwarding, connections
 *     open), to the first read that L1 no longer serves, with the default
 *     `heartbeat` (1000 ms).
 * @module
 */
import { deepStrictEqual } from "node:assert/strict";
import { PrismaPg } from "@prisma/adapter-pg";
import { Cluster, Redis } from "ioredis";
import { PrismaClient } from "../../generated/prisma/client";
import { startTcpProxy } from "../../test/support/proxy";
import { startRedisProcess } from "../../test/support/redis-process";
import { startRedisCluster } from "../../test/support/redis-cluster";
import type { BenchEnv } from "../lib/env";
import { ratio, Samples, warmUp } from "../lib/measure";
import type { Check, LatencyCase, LatencyGroup } from "../lib/types";

/** Latency cases, in display order. */
export const PRODUCTION_REDIS_CASES = ["l1Single", "l1Cluster", "l2Single", "l2Cluster"] as const;
type LatencyCaseId = (typeof PRODUCTION_REDIS_CASES)[number];

const LABELS: Record<LatencyCaseId | "lagKill" | "lagSilent", string> = {
  l1Single: "cached findUnique, L1 hit, one Redis",
  l1Cluster: "cached findUnique, L1 hit, Redis Cluster (3 masters)",
  l2Single: "cached findUnique, L2 hit (l1: false), one Redis",
  l2Cluster: "cached findUnique, L2 hit (l1: false), Redis Cluster (3 masters)",
  lagKill: "bus lag: CLIENT KILL of the subscriber → first read L1 no longer serves",
  lagSilent: "bus lag: network silent (connections open) → first read L1 no longer serves, heartbeat 1000 ms",
};

/** Target (issue "Production Redis"): an L2 hit on the cluster costs at most this much more than on one Redis. */
const L2_CLUSTER_MAX = 1.2;
/** Target: a silent bus is noticed within the default heartbeat. */
const SILENT_MAX_MS = 1_000;
const ITERATIONS = { l1: 20_000, l2: 5_000 };
const ROUNDS = 10;
const LAG_TRIALS = 8;

const ready = (r: Redis | Cluster) => (r.status === "ready" ? Promise.resolve() : new Promise<void>((res) => r.once("ready", () => res())));

/** Runs the production-redis group. Stops everything it started. */
export async function productionRedis(env: BenchEnv): Promise<LatencyGroup> {
  const started = Date.now();
  const { prismaCache } = env.library;
  const url = await env.database("production_redis");
  const plain = new PrismaClient({ adapter: new PrismaPg({ connectionString: url }) });
  const cluster = await startRedisCluster();
  const closers: Array<() => Promise<unknown> | unknown> = [() => cluster.close(), () => plain.$disconnect()];
  try {
    const user = await plain.user.create({ data: { email: "production@example.com", name: "Production User" } });
    const where = { where: { id: user.id } };
    const expected = await plain.user.findUnique(where);
    const single = new Redis(env.redisUrl);
    const onCluster = new Cluster([...cluster.nodes]);
    closers.push(
      () => single.disconnect(),
      () => onCluster.disconnect(),
    );
    await Promise.all([ready(single), ready(onCluster)]);
    const ns = { single: env.namespace("production-single"), cluster: env.namespace("production-cluster") };
    const clients = {
      l1Single: plain.$extends(prismaCache({ ttl: 600, redis: single, namespace: ns.single })),
      l1Cluster: plain.$extends(prismaCache({ ttl: 600, redis: onCluster, namespace: ns.cluster })),
      l2Single: plain.$extends(prismaCache({ ttl: 600, redis: single, namespace: ns.single, l1: false })),
      l2Cluster: plain.$extends(prismaCache({ ttl: 600, redis: onCluster, namespace: ns.cluster, l1: false })),
    };
    for (const c of Object.values(clients)) closers.push(() => c.$cache.close());
    await Promise.all(Object.values(clients).map((c) => c.$cache.ready()));
    for (const c of Object.values(clients)) deepStrictEqual(await c.user.findUnique(where), expected);

    const checks: Record<string, Check> = {};
    // What an entry and a counter cost in Redis (one Redis; the cluster holds 16 copies of each counter).
    const entryKeys = await single.keys(`${ns.single}:e:*`);
    const counterKeys = await single.keys(`${ns.single}:v:*`);
    const memory = async (keys: string[]) => Math.max(...(await Promise.all(keys.map(async (k) => Number(await single.memory("USAGE", k))))));
    checks.entryBytes = { label: "Redis memory of the cached entry (one User row), MEMORY USAGE", value: `${await memory(entryKeys)} B` };
    checks.counterBytes = { label: "Redis memory of one version counter, MEMORY USAGE (largest of the read's)", value: `${await memory(counterKeys)} B` };

    const calls: Record<LatencyCaseId, () => Promise<unknown>> = {
      l1Single: () => clients.l1Single.user.findUnique(where),
      l1Cluster: () => clients.l1Cluster.user.findUnique(where),
      l2Single: () => clients.l2Single.user.findUnique(where),
      l2Cluster: () => clients.l2Cluster.user.findUnique(where),
    };
    const samples = Object.fromEntries(PRODUCTION_REDIS_CASES.map((c) => [c, new Samples()])) as Record<LatencyCaseId, Samples>;
    const tier = (c: LatencyCaseId) => (c.startsWith("l1") ? "l1" : "l2");
    const served: Record<LatencyCaseId, number> = { l1Single: 0, l1Cluster: 0, l2Single: 0, l2Cluster: 0 };
    for (const c of PRODUCTION_REDIS_CASES) await warmUp(calls[c], tier(c) === "l1" ? 5_000 : 500);
    for (let r = 0; r < ROUNDS; r++) {
      for (const c of PRODUCTION_REDIS_CASES.map((_, i) => PRODUCTION_REDIS_CASES[(i + r) % PRODUCTION_REDIS_CASES.length]!)) {
        const n = ITERATIONS[tier(c)] / ROUNDS;
        await warmUp(calls[c], 20);
        const before = clients[c].$cache.stats().hits[tier(c)];
        await samples[c].time(calls[c], n);
        served[c] += clients[c].$cache.stats().hits[tier(c)] - before;
      }
    }
    const cases = {} as Record<string, LatencyCase>;
    for (const c of PRODUCTION_REDIS_CASES) {
      const summary = samples[c].summary();
      cases[c] = { label: LABELS[c], ...summary, servedBy: { tier: tier(c), calls: served[c], ok: served[c] === summary.iterations } };
    }

    // Bus lag. Each trial: an L1 hit, then the fault, then reads until one is not an L1 hit.
    const lag = async (label: "lagKill" | "lagSilent") => {
      const proxy = await startTcpProxy(Number(new URL(env.redisUrl).port));
      closers.push(() => proxy.close());
      const name = `bench-lag-${label}-${Date.now()}`;
      const redis = new Redis({ host: "127.0.0.1", port: proxy.port, connectionName: name, retryStrategy: () => 20 });
      redis.on("error", () => undefined);
      const client = plain.$extends(prismaCache({ ttl: 600, redis, namespace: env.namespace(`production-${label}`) }));
      closers.push(
        () => client.$cache.close(),
        () => redis.disconnect(),
      );
      await client.$cache.ready();
      const s = new Samples();
      for (let trial = 0; trial < LAG_TRIALS; trial++) {
        // Until L1 serves again (after the previous trial's recovery).
        for (let i = 0; ; i++) {
          const before = client.$cache.stats().hits.l1;
          await client.user.findUnique(where);
          if (client.$cache.stats().hits.l1 > before) break;
          if (i > 10_000) throw new Error(`${label}: L1 did not serve again after trial ${trial}`);
          await new Promise((r) => setTimeout(r, 5));
        }
        let t0: bigint;
        if (label === "lagKill") {
          const list = (await single.call("CLIENT", "LIST", "TYPE", "pubsub")) as string;
          const id = list
            .split("\n")
            .find((l) => l.includes(` name=${name} `))
            ?.match(/^id=(\d+) /)?.[1];
          if (!id) throw new Error("the bus subscriber connection was not found in CLIENT LIST");
          t0 = process.hrtime.bigint();
          await single.client("KILL", "ID", id);
        } else {
          t0 = process.hrtime.bigint();
          proxy.silence();
        }
        for (;;) {
          // A server yields to I/O between requests; so does this loop (L1 hits alone would never let a socket event in).
          await new Promise((r) => setImmediate(r));
          const at = process.hrtime.bigint();
          const before = client.$cache.stats().hits.l1;
          await client.user.findUnique(where);
          if (client.$cache.stats().hits.l1 === before) {
            s.add([Number(at - t0)]);
            break;
          }
        }
        if (label === "lagSilent") proxy.speak();
      }
      return { label: LABELS[label], ...s.summary() };
    };
    cases.lagKill = await lag("lagKill");
    cases.lagSilent = await lag("lagSilent");

    // What `replicas: 1` costs a write: the same update on a primary with one replica, with and without WAIT.
    const primary = await startRedisProcess();
    closers.push(() => primary.close());
    const replica = await startRedisProcess({ replicaOf: primary.port });
    closers.push(() => replica.close());
    const toPrimary = new Redis(primary.url);
    closers.push(() => toPrimary.disconnect());
    await toPrimary.set(`${env.namespace("production-replicas")}:synced`, "1");
    if ((await toPrimary.wait(1, 10_000)) !== 1) throw new Error("the replica did not sync");
    const post = await plain.post.create({ data: { title: "replicas" } });
    const writers = {
      noWait: plain.$extends(prismaCache({ ttl: 600, redis: toPrimary, namespace: env.namespace("production-replicas-0") })),
      wait: plain.$extends(prismaCache({ ttl: 600, redis: toPrimary, namespace: env.namespace("production-replicas-1"), replicas: 1 })),
    };
    for (const w of Object.values(writers)) closers.push(() => w.$cache.close());
    const short: unknown[] = [];
    writers.wait.$cache.on((e) => e.type === "replicas-short" && short.push(e));
    const write = {
      noWait: () => writers.noWait.post.update({ where: { id: post.id }, data: { views: { increment: 1 } } }),
      wait: () => writers.wait.post.update({ where: { id: post.id }, data: { views: { increment: 1 } } }),
    };
    const writeSamples = { noWait: new Samples(), wait: new Samples() };
    for (const k of ["noWait", "wait"] as const) await warmUp(write[k], 50);
    for (let r = 0; r < ROUNDS; r++)
      for (const k of r % 2 ? (["wait", "noWait"] as const) : (["noWait", "wait"] as const)) await writeSamples[k].time(write[k], 100);
    cases.writeNoWait = { label: "cached update by id, primary with one replica, replicas: 0", ...writeSamples.noWait.summary() };
    cases.writeWait = { label: "cached update by id, primary with one replica, replicas: 1 (WAIT)", ...writeSamples.wait.summary() };
    checks.replicasShort = { label: "replicas-short events during the replicas: 1 writes", value: String(short.length), ok: short.length === 0 };

    const l2OverSingle = ratio(cases.l2Cluster!.medianUs, cases.l2Single!.medianUs);
    const silentUs = cases.lagSilent!.medianUs;
    return {
      kind: "latency",
      title: "Production Redis: a Redis Cluster against one Redis, and how soon a silent bus stops L1",
      notes: [
        "Each call timed with process.hrtime.bigint(); medians and p99 over all rounds.",
        `${ROUNDS} rounds, hit cases interleaved (order rotated each round); ${LAG_TRIALS} trials of each bus fault.`,
        "Cluster: three masters, no replicas, started by the bench on loopback; one Redis: the bench's own server.",
        "Bus lag is timed from the fault to the start of the first read that L1 no longer serves, reading in a loop that yields to I/O between reads as a server does; the silent network is a proxy that stops forwarding while its connections stay open.",
      ],
      cases,
      ratios: {
        l2ClusterVsSingle: {
          label: "L2 hit on the cluster over one Redis (medians)",
          value: l2OverSingle,
          target: `≤ ${L2_CLUSTER_MAX}×`,
          met: l2OverSingle <= L2_CLUSTER_MAX,
        },
        l1ClusterVsSingle: { label: "L1 hit on the cluster over one Redis (medians)", value: ratio(cases.l1Cluster!.medianUs, cases.l1Single!.medianUs) },
        replicasCost: {
          label: "cached update with replicas: 1 over replicas: 0 (medians)",
          value: ratio(cases.writeWait!.medianUs, cases.writeNoWait!.medianUs),
        },
      },
      targets: {
        silent: {
          label: "a silent bus stops L1 within (median)",
          value: silentUs,
          target: `≤ ${SILENT_MAX_MS * 1000} µs (heartbeat)`,
          met: silentUs <= SILENT_MAX_MS * 1000,
        },
      },
      checks,
      seconds: Math.round((Date.now() - started) / 100) / 10,
    };
  } finally {
    for (const c of closers.reverse()) await c();
  }
}
