/**
 * A Redis Cluster (three masters) as the shared tier: entries spread over
 * the masters, every script and MGET touches one slot, writes invalidate in
 * every process, and the bus keeps L1 coherent.
 */
import type { Cluster } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RedisClient } from "../../src/index";
import { uniqueNamespace } from "../support/db";
import { useSeededDatabase } from "../support/harness";
import { mulberry32 } from "../support/prng";
import { adminRedis, CLUSTER_SCHEME, closeRedis, connectRedis, quietRedis } from "../support/redis-client";
import { type RedisClusterProcess, startRedisCluster } from "../support/redis-cluster";

const t = useSeededDatabase();
let cluster: RedisClusterProcess;
const clients: RedisClient[] = [];
const admins: Cluster[] = [];
beforeAll(async () => {
  cluster = await startRedisCluster();
}, 60_000);
afterAll(async () => {
  for (const c of clients) closeRedis(c);
  for (const a of admins) a.disconnect();
  await cluster?.close();
});

/** The test cluster's URL. */
const clusterUrl = () => `${CLUSTER_SCHEME}${cluster.nodes.map((n) => `${n.host}:${n.port}`).join(",")}`;

/** A Cluster client of the run's family, for a cache. */
function clusterClient(): RedisClient {
  const c = quietRedis(connectRedis(clusterUrl()));
  clients.push(c);
  return c;
}

/** An ioredis Cluster of the test's own, to look at the nodes and move slots, once ready. */
async function adminCluster(): Promise<Cluster> {
  const c = adminRedis(clusterUrl()) as Cluster;
  admins.push(c);
  if (c.status !== "ready") await new Promise((resolve) => c.once("ready", resolve));
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
    const a = t.cached({ redis: clusterClient() }, ns);
    await a.prisma.$cache.ready();
    for (let i = 0; i < 60; i++) await a.prisma.post.findMany({ where: { views: { gte: i } }, orderBy: { id: "asc" } });
    expect(a.prisma.$cache.stats()).toMatchObject({ misses: 60, fills: 60, redisErrors: 0 });
    const admin = await adminCluster();
    const perMaster = await Promise.all(
      admin.nodes("master").map(async (node) => {
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

/** The master that owns `slot`, by `CLUSTER NODES`: its node id and port. */
async function ownerOf(redis: Cluster, slot: number): Promise<{ id: string; port: number }> {
  const text = (await redis.nodes("master")[0]!.call("CLUSTER", "NODES")) as string;
  for (const line of text.trim().split("\n")) {
    const [id, address, flags, , , , , , ...ranges] = line.split(" ");
    if (!flags!.includes("master")) continue;
    for (const r of ranges) {
      const [from, to = from] = r.split("-").map(Number);
      if (slot >= from! && slot <= to!) return { id: id!, port: Number(address!.split(":")[1]!.split("@")[0]) };
    }
  }
  throw new Error(`no master owns slot ${slot}`);
}

describe("a slot migration during a seeded load", () => {
  it("fails no query and serves no stale row", async () => {
    const ns = uniqueNamespace();
    const admin = await adminCluster();
    const a = t.cached({ redis: clusterClient() }, ns);
    const b = t.cached({ redis: clusterClient() }, ns);
    await Promise.all([a.prisma.$cache.ready(), b.prisma.$cache.ready()]);
    const plain = t.plain().prisma;
    const rows = await plain.post.findMany({ select: { id: true, views: true } });
    const truth = new Map(rows.map((r) => [r.id, r.views]));
    const ids = [...truth.keys()];
    const rand = mulberry32(20261201);
    // The slots of four groups (each holds entries and their counters), moved from their owner to another master.
    const slots = await Promise.all([0, 1, 2, 3].map(async (g) => Number(await admin.cluster("KEYSLOT", `{${ns}:${g}}`))));
    const moved: Array<() => Promise<void>> = [];
    let stale = 0;
    let done = 0;
    const step = async (i: number) => {
      const who = i % 2 === 0 ? a : b;
      const id = ids[Math.floor(rand() * ids.length)]!;
      const r = rand();
      if (r < 0.2) {
        const views = Math.floor(rand() * 1_000_000);
        await who.prisma.post.update({ where: { id }, data: { views } });
        truth.set(id, views);
        // The other process's L1 hears of it through the bus (its L2 reads see it at once).
        const other = who === a ? b : a;
        const sent = who.prisma.$cache.lastPublished();
        if (sent) await other.prisma.$cache.delivered(sent, { timeoutMs: 5_000 });
      } else if (r < 0.6) {
        const row = await who.prisma.post.findUnique({ where: { id }, select: { id: true, views: true } });
        if (row?.views !== truth.get(id)) stale++;
      } else {
        const list = await who.prisma.post.findMany({ select: { id: true, views: true }, orderBy: { id: "asc" } });
        if (list.some((p) => p.views !== truth.get(p.id))) stale++;
      }
      done++;
    };
    for (const slot of slots) {
      moved.push(async () => {
        const from = await ownerOf(admin, slot);
        const to = await ownerOf(admin, (slot + 5461) % 16384).then((o) => (o.id === from.id ? ownerOf(admin, (slot + 10922) % 16384) : o));
        const source = admin.nodes("master").find((n) => n.options.port === from.port)!;
        const target = admin.nodes("master").find((n) => n.options.port === to.port)!;
        await target.call("CLUSTER", "SETSLOT", slot, "IMPORTING", from.id);
        await source.call("CLUSTER", "SETSLOT", slot, "MIGRATING", to.id);
        // Half the keys first, with reads and writes in between: the slot is split over two masters for a while.
        const keys = (await source.call("CLUSTER", "GETKEYSINSLOT", slot, 1000)) as string[];
        const half = keys.slice(0, Math.ceil(keys.length / 2));
        if (half.length) await source.call("MIGRATE", "127.0.0.1", to.port, "", 0, 5000, "KEYS", ...half);
        for (let i = 0; i < 30; i++) await step(done);
        const rest = (await source.call("CLUSTER", "GETKEYSINSLOT", slot, 1000)) as string[];
        if (rest.length) await source.call("MIGRATE", "127.0.0.1", to.port, "", 0, 5000, "KEYS", ...rest);
        for (const n of admin.nodes("master")) await n.call("CLUSTER", "SETSLOT", slot, "NODE", to.id);
      });
    }
    for (let i = 0; i < 200; i++) await step(i);
    for (const move of moved) {
      await move();
      for (let i = 0; i < 50; i++) await step(done);
    }
    expect(stale).toBe(0);
    expect(done).toBe(200 + slots.length * 80);
    // The cache kept working through it: most reads were hits.
    const hits = [a, b].reduce((n, c) => n + c.prisma.$cache.stats().hits.l1 + c.prisma.$cache.stats().hits.l2, 0);
    expect(hits).toBeGreaterThan(100);
  }, 120_000);
});
