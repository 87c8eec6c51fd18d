/**
 * Redis clients: the cache with node-redis against the same cache with
 * ioredis, in the same run, on one Redis and on a Redis Cluster (three
 * masters); and what ioredis 6, iovalkey and node-redis 6 (RESP3) cost on
 * one Redis, for information.
 *
 * Setup (untimed): one User row and one Post row; per client family, one
 * connected client on the bench's Redis (and for ioredis and node-redis,
 * one on a cluster the group starts, test/support/redis-cluster.ts), each
 * under a cache with `l1: false` filled by one read, and one with L1 for
 * the writes, each in a namespace of its own.
 * Timed, interleaved in rounds (the order rotates each round):
 *   - L2 hits of `findUnique` by id (`l1: false`), per client and topology;
 *   - a cached write: `update` of the Post by id, with ioredis and with
 *     node-redis (the database write, then its bumps: the marks, and the
 *     release with the next write or on the next turn).
 * @module
 */
import { deepStrictEqual } from "node:assert/strict";
import { PrismaPg } from "@prisma/adapter-pg";
import { PrismaClient } from "../../generated/prisma/client";
import { type ClientKind, CLUSTER_SCHEME, closeRedis, connectRedis, whenRedisReady } from "../../test/support/redis-client";
import { startRedisCluster } from "../../test/support/redis-cluster";
import type { BenchEnv } from "../lib/env";
import { ratio, Samples, warmUp } from "../lib/measure";
import type { LatencyCase, LatencyGroup } from "../lib/types";

/** Latency cases, in display order. */
export const CLIENT_CASES = [
  "l2Ioredis",
  "l2NodeRedis",
  "l2ClusterIoredis",
  "l2ClusterNodeRedis",
  "writeIoredis",
  "writeNodeRedis",
  "l2Ioredis6",
  "l2Iovalkey",
  "l2NodeRedis6",
] as const;
type ClientCase = (typeof CLIENT_CASES)[number];

/** Each case's client family, topology and operation. */
const CASES: Record<ClientCase, { label: string; kind: ClientKind; cluster: boolean; write: boolean }> = {
  l2Ioredis: { label: "L2 hit (l1: false), ioredis 5, one Redis", kind: "ioredis", cluster: false, write: false },
  l2NodeRedis: { label: "L2 hit (l1: false), node-redis 5 (RESP2), one Redis", kind: "node-redis", cluster: false, write: false },
  l2ClusterIoredis: { label: "L2 hit (l1: false), ioredis 5, Redis Cluster (3 masters)", kind: "ioredis", cluster: true, write: false },
  l2ClusterNodeRedis: { label: "L2 hit (l1: false), node-redis 5 (RESP2), Redis Cluster (3 masters)", kind: "node-redis", cluster: true, write: false },
  writeIoredis: { label: "cached update by id, ioredis 5, one Redis", kind: "ioredis", cluster: false, write: true },
  writeNodeRedis: { label: "cached update by id, node-redis 5 (RESP2), one Redis", kind: "node-redis", cluster: false, write: true },
  l2Ioredis6: { label: "L2 hit (l1: false), ioredis 6 (RESP3), one Redis", kind: "ioredis6", cluster: false, write: false },
  l2Iovalkey: { label: "L2 hit (l1: false), iovalkey, one Redis", kind: "iovalkey", cluster: false, write: false },
  l2NodeRedis6: { label: "L2 hit (l1: false), node-redis 6 (RESP3), one Redis", kind: "node-redis6", cluster: false, write: false },
};

/** Target (issue "Every Redis client"): node-redis costs at most this much more than ioredis, on an L2 hit and on a cached write. */
const NODE_REDIS_MAX = 1.1;
const ITERATIONS = { read: 10_000, write: 3_000 };
const ROUNDS = 20;

/** Runs the clients group. Stops everything it started. */
export async function clients(env: BenchEnv): Promise<LatencyGroup> {
  const started = Date.now();
  const { prismaCache } = env.library;
  const url = await env.database("clients");
  const uncached = new PrismaClient({ adapter: new PrismaPg({ connectionString: url }) });
  const cluster = await startRedisCluster();
  const clusterUrl = `${CLUSTER_SCHEME}${cluster.nodes.map((n) => `${n.host}:${n.port}`).join(",")}`;
  const closers: Array<() => Promise<unknown> | unknown> = [() => cluster.close(), () => uncached.$disconnect()];
  try {
    const user = await uncached.user.create({ data: { email: "clients@example.com", name: "Clients User" } });
    const post = await uncached.post.create({ data: { title: "clients" } });
    const where = { where: { id: user.id } };
    const expected = await uncached.user.findUnique(where);

    const calls = {} as Record<ClientCase, () => Promise<unknown>>;
    const caches = {} as Record<ClientCase, { $cache: { stats(): { hits: { l2: number } } } }>;
    for (const c of CLIENT_CASES) {
      const { kind, cluster: onCluster, write } = CASES[c];
      const redis = connectRedis(onCluster ? clusterUrl : env.redisUrl, {}, kind);
      closers.push(() => closeRedis(redis));
      await whenRedisReady(redis);
      const cached = uncached.$extends(prismaCache({ ttl: 600, redis, namespace: env.namespace(`clients-${c}`), ...(write ? {} : { l1: false as const }) }));
      closers.push(() => cached.$cache.close());
      await cached.$cache.ready();
      caches[c] = cached;
      if (write) {
        calls[c] = () => cached.post.update({ where: { id: post.id }, data: { views: { increment: 1 } } });
      } else {
        deepStrictEqual(await cached.user.findUnique(where), expected); // the fill
        deepStrictEqual(await cached.user.findUnique(where), expected); // an L2 hit
        calls[c] = () => cached.user.findUnique(where);
      }
    }

    const samples = Object.fromEntries(CLIENT_CASES.map((c) => [c, new Samples()])) as Record<ClientCase, Samples>;
    const served = Object.fromEntries(CLIENT_CASES.map((c) => [c, 0])) as Record<ClientCase, number>;
    for (const c of CLIENT_CASES) await warmUp(calls[c], CASES[c].write ? 50 : 500);
    for (let r = 0; r < ROUNDS; r++) {
      for (const c of CLIENT_CASES.map((_, i) => CLIENT_CASES[(i + r) % CLIENT_CASES.length]!)) {
        const n = (CASES[c].write ? ITERATIONS.write : ITERATIONS.read) / ROUNDS;
        await warmUp(calls[c], CASES[c].write ? 5 : 20);
        const before = caches[c].$cache.stats().hits.l2;
        await samples[c].time(calls[c], n);
        served[c] += caches[c].$cache.stats().hits.l2 - before;
      }
    }
    const cases = {} as Record<string, LatencyCase>;
    for (const c of CLIENT_CASES) {
      const summary = samples[c].summary();
      cases[c] = {
        label: CASES[c].label,
        ...summary,
        ...(CASES[c].write ? {} : { servedBy: { tier: "l2" as const, calls: served[c], ok: served[c] === summary.iterations } }),
      };
    }

    const over = (a: ClientCase, b: ClientCase) => ratio(cases[a]!.medianUs, cases[b]!.medianUs);
    const target = (label: string, value: number) => ({ label, value, target: `≤ ${NODE_REDIS_MAX}×`, met: value <= NODE_REDIS_MAX });
    return {
      kind: "latency",
      title: "Redis clients: node-redis against ioredis, on one Redis and on a Redis Cluster",
      notes: [
        "Each call timed with process.hrtime.bigint(); medians and p99 over all rounds.",
        `${ROUNDS} rounds, cases interleaved (order rotated each round); every client connected before the first round.`,
        "Clients with their default options; node-redis 5 speaks RESP2 and node-redis 6 and ioredis 6 RESP3 by default. Cluster: three masters, no replicas, started by the bench on loopback.",
        "The cached write is an update of one Post by id under a cache with L1: the database write and the cache's bumps.",
      ],
      cases,
      ratios: {
        l2: target("L2 hit, node-redis over ioredis, one Redis (medians)", over("l2NodeRedis", "l2Ioredis")),
        l2Cluster: target("L2 hit, node-redis over ioredis, Redis Cluster (medians)", over("l2ClusterNodeRedis", "l2ClusterIoredis")),
        write: target("cached write, node-redis over ioredis (medians)", over("writeNodeRedis", "writeIoredis")),
        l2Ioredis6: { label: "L2 hit, ioredis 6 over ioredis 5, one Redis (medians)", value: over("l2Ioredis6", "l2Ioredis") },
        l2Iovalkey: { label: "L2 hit, iovalkey over ioredis 5, one Redis (medians)", value: over("l2Iovalkey", "l2Ioredis") },
        l2NodeRedis6: { label: "L2 hit, node-redis 6 over node-redis 5, one Redis (medians)", value: over("l2NodeRedis6", "l2NodeRedis") },
      },
      targets: {},
      seconds: Math.round((Date.now() - started) / 100) / 10,
    };
  } finally {
    for (const c of closers.reverse()) await c();
  }
}
