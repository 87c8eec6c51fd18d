/**
 * A Redis Cluster (three masters) as the shared tier: entries spread over
 * the masters, every script and MGET touches one slot, writes invalidate in
 * every process, and the bus keeps L1 coherent.
 */
import { Cluster } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { uniqueNamespace } from "../support/db";
import { useSeededDatabase } from "../support/harness";
import { type RedisClusterProcess, startRedisCluster } from "../support/redis-cluster";

const t = useSeededDatabase();
let cluster: RedisClusterProcess;
const clients: Cluster[] = [];
beforeAll(async () => {
  cluster = await startRedisCluster();
}, 60_000);
afterAll(async () => {
  for (const c of clients) c.disconnect();
  await cluster?.close();
});

function clusterClient(): Cluster {
  const c = new Cluster([...cluster.nodes]);
  c.on("error", () => undefined);
  clients.push(c);
  return c;
}

describe("on a Redis Cluster", () => {
  it("a second process reads the first one's entries from L2, and a write is seen by both at once", async () => {
    const ns = uniqueNamespace();
    const a = t.cached({ redis: clusterClient() }, ns);
    const b = t.cached({ redis: clusterClient() }, ns);
    await Promise.all([a.prisma.$cache.ready(), b.prisma.$cache.ready()]);
    const id = t.ids.posts.hello;
    const post = await a.prisma.post.findUnique({ where: { id } });
    const list = await a.prisma.post.findMany({ where: { published: true }, orderBy: { id: "asc" } });
    expect(await b.prisma.post.findUnique({ where: { id } })).toEqual(post);
    expect(await b.prisma.post.findMany({ where: { published: true }, orderBy: { id: "asc" } })).toEqual(list);
    expect(b.prisma.$cache.stats()).toMatchObject({ hits: { l2: 2 }, misses: 0 });
    // b's L1 has them now; a writes, and b sees the write from L1's point of view once the bus delivered it.
    await b.prisma.post.findUnique({ where: { id } });
    expect(b.prisma.$cache.stats().hits.l1).toBe(1);
    const title = `${post!.title} (on the cluster, ${ns})`;
    await a.prisma.post.update({ where: { id }, data: { title } });
    await b.prisma.$cache.delivered(a.prisma.$cache.lastPublished()!, { timeoutMs: 5_000 });
    expect((await b.prisma.post.findUnique({ where: { id } }))?.title).toBe(title);
    expect((await b.prisma.post.findMany({ where: { published: true }, orderBy: { id: "asc" } })).find((p) => p.id === id)?.title).toBe(title);
    // A third process, started now, reads the new value from L2.
    const c = t.cached({ redis: clusterClient() }, ns);
    expect((await c.prisma.post.findUnique({ where: { id } }))?.title).toBe(title);
    expect(c.prisma.$cache.stats()).toMatchObject({ hits: { l2: 1 }, misses: 0 });
    for (const x of [a, b, c]) expect(x.prisma.$cache.stats()).toMatchObject({ redisErrors: 0, busErrors: 0 });
    await a.prisma.post.update({ where: { id }, data: { title: post!.title } });
  });

  it("spreads entries over every master, each next to its own counters (one slot per read and fill)", async () => {
    const ns = uniqueNamespace();
    const redis = clusterClient();
    const a = t.cached({ redis }, ns);
    await a.prisma.$cache.ready();
    for (let i = 0; i < 60; i++) await a.prisma.post.findMany({ where: { views: { gte: i } }, orderBy: { id: "asc" } });
    expect(a.prisma.$cache.stats()).toMatchObject({ misses: 60, fills: 60, redisErrors: 0 });
    const perMaster = await Promise.all(
      redis.nodes("master").map(async (node) => {
        const keys = await node.keys(`{${ns}:*}:e:*`);
        // Every entry's counters are in its own group (same hash tag).
        for (const k of keys) {
          const tag = k.slice(0, k.indexOf("}") + 1);
          expect(await node.exists(`${tag}:v:m:Post`)).toBe(1);
        }
        return keys.length;
      }),
    );
    expect(perMaster).toHaveLength(3);
    expect(perMaster.every((n) => n > 0)).toBe(true);
    expect(perMaster.reduce((x, y) => x + y, 0)).toBe(60);
  });
});
