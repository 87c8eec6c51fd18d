/**
 * Production Redis: a server that comes back with older data (a restore
 * from a snapshot, what a lagging replica holds), and cold starts, with the
 * client's default options and with the fail-fast options many apps use
 * for a cache (ioredis: no offline queue, one retry; node-redis:
 * `disableOfflineQueue` and a reconnect strategy). The cache's clients are
 * of the run's family; the test looks at Redis through ioredis connections
 * of its own.
 */
import { connect } from "node:net";
import type { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import type { CacheEvent, RedisClient } from "../../src/index";
import { mentionsTable, redisUrl, uniqueNamespace } from "../support/db";
import { selects, slowDescribe, useSeededDatabase } from "../support/harness";
import { mulberry32 } from "../support/prng";
import { startTcpProxy, type TcpProxy } from "../support/proxy";
import {
  adminRedis,
  clientKind,
  closeRedis,
  connectPort,
  isRedisReady,
  quietRedis,
  redisCommand,
  runsSlowCases,
  type TestRedisOptions,
  whenRedisLost,
  whenRedisReady,
} from "../support/redis-client";
import { type RedisProcess, startRedisProcess } from "../support/redis-process";

const t = useSeededDatabase();
const owned: Array<RedisProcess | TcpProxy> = [];
const clients: RedisClient[] = [];
const admins: Redis[] = [];
afterAll(async () => {
  for (const c of clients) closeRedis(c);
  for (const a of admins) a.disconnect();
  for (const o of owned) await o.close();
});

/**
 * The client options apps use: the client's defaults (where the run's
 * family runs the slowest outage cases, {@link runsSlowCases}), and
 * fail-fast ones.
 */
const OPTION_SETS: Array<[string, TestRedisOptions]> = [
  ...(runsSlowCases("outages") ? [[`${clientKind()} defaults`, {}] as [string, TestRedisOptions]] : []),
  [`${clientKind()} fail-fast options`, { failFast: true }],
];

/** A client of the run's family for the test's Redis on `port` (reconnecting quickly after an outage). */
function client(port: number, options: TestRedisOptions = {}): RedisClient {
  const r = quietRedis(connectPort(port, { reconnectMs: 20, ...options })); // outages are the point of these tests
  clients.push(r);
  return r;
}

/** An ioredis connection of the test's own to the Redis on `port`. */
function admin(port: number): Redis {
  const r = adminRedis(port) as Redis;
  admins.push(r);
  return r;
}

const ready = whenRedisReady;

describe.each(OPTION_SETS)("a Redis restored from a snapshot taken before a write (%s)", (_name, options) => {
  it("serves no entry stored before the restore: not to the writer, an old reader, or a process started afterwards", async () => {
    const server = await startRedisProcess();
    owned.push(server);
    const ns = uniqueNamespace();
    const id = t.ids.posts.hello;
    const writerRedis = client(server.port, options);
    const readerRedis = client(server.port, options);
    const writer = t.cached({ redis: writerRedis }, ns);
    const reader = t.cached({ redis: readerRedis }, ns);
    const flushed: CacheEvent[] = [];
    reader.prisma.$cache.on((e) => e.type === "l1-flushed" && flushed.push(e));
    await Promise.all([writer.prisma.$cache.ready(), reader.prisma.$cache.ready()]);

    const original = (await writer.prisma.post.findUnique({ where: { id } }))!.title;
    expect((await reader.prisma.post.findUnique({ where: { id } }))?.title).toBe(original);
    expect(reader.prisma.$cache.stats().hits.l2).toBe(1); // the writer's entry
    expect((await reader.prisma.post.findMany({ where: { id } }))[0]?.title).toBe(original);

    await server.snapshot(); // what a lagging replica or the last snapshot holds
    const expected = `${original} (written after the snapshot, ${ns})`;
    await writer.prisma.post.update({ where: { id }, data: { title: expected } });
    await server.kill();
    await server.start(); // from the snapshot: the counters are back at the values the old entries were stored under

    // The restored Redis does hold the old entries, with the old title.
    const inspect = admin(server.port);
    const [, keys] = await inspect.scan("0", "MATCH", `${ns}:e:*`, "COUNT", 1000);
    const bodies = await Promise.all(keys.map((k) => inspect.get(k)));
    expect(bodies.some((b) => b?.includes(JSON.stringify(original)))).toBe(true);

    const fresh = t.cached({ redis: client(server.port, options) }, ns);
    expect((await fresh.prisma.post.findUnique({ where: { id } }))?.title).toBe(expected);
    expect((await fresh.prisma.post.findMany({ where: { id } }))[0]?.title).toBe(expected);
    expect(fresh.prisma.$cache.stats().hits.l2).toBe(0);

    await Promise.all([ready(writerRedis), ready(readerRedis)]);
    expect((await writer.prisma.post.findUnique({ where: { id } }))?.title).toBe(expected);
    expect((await reader.prisma.post.findUnique({ where: { id } }))?.title).toBe(expected);
    expect((await reader.prisma.post.findMany({ where: { id } }))[0]?.title).toBe(expected);
    expect(flushed.some((e) => e.type === "l1-flushed" && (e.reason === "server" || e.reason === "reconnect"))).toBe(true);

    // And the cache works on the restored server: the next read by another process is an L2 hit.
    const later = t.cached({ redis: client(server.port, options) }, ns);
    expect((await later.prisma.post.findUnique({ where: { id } }))?.title).toBe(expected);
    expect(later.prisma.$cache.stats()).toMatchObject({ hits: { l2: 1 }, misses: 0 });
    await writer.prisma.post.update({ where: { id }, data: { title: original } });
  });
});

describe.each(OPTION_SETS)("a replica promoted without the last bumps (%s)", (_name, options) => {
  it("serves no entry stored before the failover: not to the writer, an old reader, or a process started afterwards", async () => {
    const primary = await startRedisProcess();
    const replica = await startRedisProcess({ replicaOf: primary.port });
    const proxy = await startTcpProxy(primary.port);
    owned.push(proxy, primary, replica);
    const admins = { primary: admin(primary.port), replica: admin(replica.port) };
    const ns = uniqueNamespace();
    const id = t.ids.posts.hello;
    const writerRedis = client(proxy.port, options);
    const readerRedis = client(proxy.port, options);
    const writer = t.cached({ redis: writerRedis }, ns);
    const reader = t.cached({ redis: readerRedis }, ns);
    await Promise.all([writer.prisma.$cache.ready(), reader.prisma.$cache.ready()]);

    const original = (await writer.prisma.post.findUnique({ where: { id } }))!.title;
    expect((await reader.prisma.post.findUnique({ where: { id } }))?.title).toBe(original);
    expect(reader.prisma.$cache.stats().hits.l2).toBe(1);
    // The replica has everything so far (WAIT covers what this connection wrote, and all before it), then stops receiving.
    await admins.primary.set(`${ns}:replicated`, "1");
    expect(await admins.primary.wait(1, 5_000)).toBe(1);
    replica.signal("SIGSTOP");
    // Its replication link is cut (what it had not read is lost with the primary).
    await admins.primary.client("KILL", "TYPE", "replica");
    const expected = `${original} (written before the failover, ${ns})`;
    await writer.prisma.post.update({ where: { id }, data: { title: expected } });
    await primary.kill();
    replica.signal("SIGCONT");
    await admins.replica.replicaof("NO", "ONE");
    proxy.retarget(replica.port); // the clients move to the promoted replica

    // The promoted replica holds the entry, under counters that never saw the write's bump: it would read as fresh.
    const [, keys] = await admins.replica.scan("0", "MATCH", `${ns}:e:*`, "COUNT", 1000);
    const entry = (await Promise.all(keys.map((k) => admins.replica.get(k)))).find((b) => b?.includes(JSON.stringify(original)));
    const recorded = entry?.split("|")[4];
    const counters = await admins.replica.mget(`${ns}:v:b:Post`, `${ns}:v:r:Post:[#${id}]`);
    expect(recorded).toBe(counters.join(","));

    const freshRedis = client(proxy.port, options);
    const fresh = t.cached({ redis: freshRedis }, ns);
    // Every connection is up on the promoted replica before anyone reads.
    await Promise.all([ready(freshRedis), ready(writerRedis), ready(readerRedis)]);
    expect((await fresh.prisma.post.findUnique({ where: { id } }))?.title).toBe(expected);
    expect((await writer.prisma.post.findUnique({ where: { id } }))?.title).toBe(expected);
    expect((await reader.prisma.post.findUnique({ where: { id } }))?.title).toBe(expected);
    expect(fresh.prisma.$cache.stats().hits.l2).toBe(0);
    await writer.prisma.post.update({ where: { id }, data: { title: original } });
  });
});

describe.each(OPTION_SETS)("a cold start (%s)", (_name, options) => {
  /**
   * A cached client in `ns` whose Redis connection (through a proxy to the
   * shared test Redis) stays unconnected until its first statement matching
   * `connectAt` has run: the connection comes up while what follows that
   * statement is on its way to Redis.
   */
  async function coldCache(ns: string, connectAt: (sql: string) => boolean) {
    const proxy = await startTcpProxy(Number(new URL(redisUrl()).port));
    owned.push(proxy);
    proxy.hold();
    const redis = client(proxy.port, options);
    const cache = t.cached({ redis, redisTimeout: 2_000 }, ns);
    const gate = cache.counter.gateResult((q) => connectAt(q.sql));
    void gate.opened.then(() => {
      proxy.admit();
      gate.release();
    });
    expect(isRedisReady(redis)).toBe(false);
    return cache;
  }
  const fingerprint = (sql: string) => sql.includes("database fingerprint");

  it("uses Redis from the first query once the connection is up within redisTimeout: a second process finds the first one's entry", async () => {
    const ns = uniqueNamespace();
    const id = t.ids.posts.hello;
    // The connection comes up while the first read is on its way to Redis (after the database fingerprint).
    const a = await coldCache(ns, fingerprint);
    const value = await a.prisma.post.findUnique({ where: { id } });
    expect(a.prisma.$cache.stats()).toMatchObject({ misses: 1, redisErrors: 0 });

    const b = await coldCache(ns, fingerprint);
    expect(await b.prisma.post.findUnique({ where: { id } })).toEqual(value);
    expect(b.prisma.$cache.stats()).toMatchObject({ hits: { l2: 1 }, misses: 0, redisErrors: 0 });
  });

  it("a write of a just-started process reaches the other processes' L1 before it resolves its delivery", async () => {
    const ns = uniqueNamespace();
    const id = t.ids.posts.hello;
    const warm = t.cached({ redis: client(Number(new URL(redisUrl()).port)) }, ns);
    await warm.prisma.$cache.ready();
    const before = await warm.prisma.post.findUnique({ where: { id } });
    await warm.prisma.post.findUnique({ where: { id } });
    expect(warm.prisma.$cache.stats().hits.l1).toBe(1);

    // The connection comes up while the write's bump is on its way.
    const writer = await coldCache(ns, (sql) => /^\s*update/i.test(sql));
    const title = `${before!.title}, written by a process just started`;
    await writer.prisma.post.update({ where: { id }, data: { title } });
    const published = writer.prisma.$cache.lastPublished();
    expect(published).toBeDefined();
    expect(writer.prisma.$cache.stats().redisErrors).toBe(0);
    await warm.prisma.$cache.delivered(published!, { timeoutMs: 5_000 });
    expect((await warm.prisma.post.findUnique({ where: { id } }))?.title).toBe(title);
    await writer.prisma.post.update({ where: { id }, data: { title: before!.title } });
  });
});

describe.each(OPTION_SETS)("a client that gives up reconnecting (%s)", (_name, options) => {
  it("reads go to the database and writes succeed, each within its bound, while Redis is gone for it", async () => {
    const server = await startRedisProcess();
    owned.push(server);
    const ns = uniqueNamespace();
    const id = t.ids.posts.hello;
    const redis = client(server.port, { ...options, noReconnect: true });
    const c = t.cached({ redis, redisTimeout: 300 }, ns);
    await c.prisma.$cache.ready();
    const original = (await c.prisma.post.findUnique({ where: { id } }))!.title;
    await c.prisma.post.findMany({ where: { id } });
    const lost = whenRedisLost(redis);
    await server.kill();
    await lost;
    const title = `${original} (written after the client gave up, ${ns})`;
    const t0 = performance.now();
    await c.prisma.post.update({ where: { id }, data: { title } });
    expect((await c.prisma.post.findUnique({ where: { id } }))?.title).toBe(title);
    expect((await c.prisma.post.findMany({ where: { id } }))[0]?.title).toBe(title);
    // Three operations, none waiting for a connection that will not come back longer than redisTimeout.
    expect(performance.now() - t0).toBeLessThan(3_000);
    expect(isRedisReady(redis)).toBe(false);
    await t.plain().prisma.post.update({ where: { id }, data: { title: original } });
  });
});

describe("a bus that stops delivering without closing its connection", () => {
  it("is noticed within `heartbeat`: L1 stops serving, and a write made meanwhile by another process is seen", async () => {
    const ns = uniqueNamespace();
    const id = t.ids.posts.hello;
    const port = Number(new URL(redisUrl()).port);
    const proxy = await startTcpProxy(port);
    owned.push(proxy);
    const reader = t.cached({ redis: client(proxy.port), redisTimeout: 200, heartbeat: 200 }, ns);
    const writer = t.cached({ redis: client(port) }, ns);
    await Promise.all([reader.prisma.$cache.ready(), writer.prisma.$cache.ready()]);
    const original = (await reader.prisma.post.findUnique({ where: { id } }))!.title;
    await reader.prisma.post.findUnique({ where: { id } });
    expect(reader.prisma.$cache.stats().hits.l1).toBe(1);

    const silent = new Promise<CacheEvent>((resolve) => reader.prisma.$cache.on((e) => e.type === "bus-silent" && resolve(e)));
    proxy.silence(); // the reader's connections stay open and deliver nothing
    expect(await silent).toEqual({ type: "bus-silent", heartbeat: 200 });
    const title = `${original} (written while the reader's bus was silent, ${ns})`;
    await writer.prisma.post.update({ where: { id }, data: { title } });

    expect((await reader.prisma.post.findUnique({ where: { id } }))?.title).toBe(title);
    expect(reader.prisma.$cache.stats().hits.l1).toBe(1);
    proxy.speak();
    await writer.prisma.post.update({ where: { id }, data: { title: original } });
  });
});

describe("replicas", () => {
  it("with replicas: 1 a write resolves once the replica has its bump; with more replicas than exist it resolves within redisTimeout and says so", async () => {
    const primary = await startRedisProcess();
    const replica = await startRedisProcess({ replicaOf: primary.port });
    owned.push(primary, replica);
    const admins = { primary: admin(primary.port), replica: admin(replica.port) };
    const ns = uniqueNamespace();
    await admins.primary.set(`${ns}:replicated`, "1");
    expect(await admins.primary.wait(1, 5_000)).toBe(1);
    const id = t.ids.posts.hello;
    const one = t.cached({ redis: client(primary.port), replicas: 1, redisTimeout: 3_000 }, ns);
    await one.prisma.$cache.ready();
    const original = (await one.prisma.post.findUnique({ where: { id } }))!.title;

    // The replica sleeps 300 ms: the write can only resolve after it woke and took the bump.
    let awake = false;
    const sleeping = admins.replica.call("DEBUG", "SLEEP", "0.3").then(() => (awake = true));
    await one.prisma.post.update({ where: { id }, data: { title: `${original}, on the replica too` } });
    expect(awake).toBe(true);
    await sleeping;

    const short: CacheEvent[] = [];
    const two = t.cached({ redis: client(primary.port), replicas: 2, redisTimeout: 2_000 }, ns);
    two.prisma.$cache.on((e) => e.type === "replicas-short" && short.push(e));
    await two.prisma.post.update({ where: { id }, data: { title: original } });
    expect(short).toEqual([{ type: "replicas-short", wanted: 2, acknowledged: 1 }]);
    expect(two.prisma.$cache.stats().redisErrors).toBe(0);
  });
});

describe("a Redis user that may not run INFO", () => {
  it("works, and a degraded event says that a restore cannot be detected", async () => {
    const server = await startRedisProcess();
    owned.push(server);
    await admin(server.port).acl("SETUSER", "cache", "on", ">secret", "~*", "&*", "+@all", "-info");
    const events: CacheEvent[] = [];
    const c = t.cached({ redis: client(server.port, { username: "cache", password: "secret" }) });
    c.prisma.$cache.on((e) => events.push(e));
    const id = t.ids.posts.hello;
    const value = await c.prisma.post.findUnique({ where: { id } });
    const other = t.cached({ redis: client(server.port, { username: "cache", password: "secret" }) }, c.namespace);
    expect(await other.prisma.post.findUnique({ where: { id } })).toEqual(value);
    expect(other.prisma.$cache.stats()).toMatchObject({ hits: { l2: 1 }, redisErrors: 0 });
    expect(events).toContainEqual(expect.objectContaining({ type: "degraded", internal: "Redis INFO" }));
  });
});

slowDescribe("outages", "under load: Redis killed and restarted twice, then frozen once", () => {
  it("fails no application query, and serves no stale row once it has recovered", async () => {
    const server = await startRedisProcess();
    owned.push(server);
    const ns = uniqueNamespace();
    const redises = [0, 1, 2].map(() => client(server.port));
    const caches = redises.map((redis) => t.cached({ redis, redisTimeout: 300, breaker: { failures: 3, cooldown: 200 } }, ns));
    await Promise.all(caches.map((c) => c.prisma.$cache.ready()));
    const rows = await t.plain().prisma.post.findMany({ select: { id: true, views: true } });
    const truth = new Map(rows.map((r) => [r.id, r.views]));
    const ids = [...truth.keys()];
    const rand = mulberry32(20261202);
    let failed = 0;
    let stale = 0;
    const worst: Record<string, number> = {};

    /** One seeded operation by process `i % 3`; `checked`: it must not read a stale row (the write is waited for everywhere). */
    const op = async (i: number, phase: string, checked: boolean) => {
      const who = caches[i % 3]!;
      const id = ids[Math.floor(rand() * ids.length)]!;
      const write = rand() < 0.25;
      const views = Math.floor(rand() * 1_000_000);
      const t0 = performance.now();
      try {
        if (write) {
          await who.prisma.post.update({ where: { id }, data: { views } });
          truth.set(id, views);
          if (checked)
            for (const other of caches) if (other !== who) await other.prisma.$cache.delivered(who.prisma.$cache.lastPublished()!, { timeoutMs: 5_000 });
        } else {
          const row = await who.prisma.post.findUnique({ where: { id }, select: { views: true } });
          if (checked && row?.views !== truth.get(id)) stale++;
          worst[phase] = Math.max(worst[phase] ?? 0, performance.now() - t0);
        }
      } catch {
        failed++;
      }
    };
    /** Back: every connection up, every bus subscribed, and every bump still queued in Redis and delivered everywhere. */
    const recovered = async () => {
      await Promise.all(redises.map(ready));
      await Promise.all(caches.map((c) => c.prisma.$cache.ready()));
      for (const who of caches) {
        await who.prisma.$cache.invalidate({ tags: ["recovered"] }); // carries the bumps still queued with it
        for (const other of caches) if (other !== who) await other.prisma.$cache.delivered(who.prisma.$cache.lastPublished()!, { timeoutMs: 5_000 });
      }
    };

    let n = 0;
    for (let i = 0; i < 150; i++) await op(n++, "steady", true);
    for (const fault of ["killed (1st)", "killed (2nd)"]) {
      await server.kill();
      for (let i = 0; i < 60; i++) await op(n++, fault, false);
      await server.start();
      await recovered();
      for (let i = 0; i < 150; i++) await op(n++, `after ${fault}`, true);
    }
    server.signal("SIGSTOP");
    for (let i = 0; i < 30; i++) await op(n++, "frozen", false);
    server.signal("SIGCONT");
    await recovered();
    for (let i = 0; i < 150; i++) await op(n++, "after frozen", true);

    expect(failed).toBe(0);
    expect(stale).toBe(0);
    // The cache kept working between the faults.
    expect(caches.reduce((h, c) => h + c.prisma.$cache.stats().hits.l1 + c.prisma.$cache.stats().hits.l2, 0)).toBeGreaterThan(200);
    console.log(
      `[under load] worst read latency per phase (ms): ${Object.entries(worst)
        .map(([p, ms]) => `${p} ${ms.toFixed(0)}`)
        .join(", ")}`,
    );
  }, 120_000);
});

describe("a Redis that refuses a command the cache needs", () => {
  it("says which in a degraded event, and reads stay correct", async () => {
    const server = await startRedisProcess();
    owned.push(server);
    await admin(server.port).acl("SETUSER", "noscripts", "on", ">secret", "~*", "&*", "+@all", "-evalsha", "-eval");
    const events: CacheEvent[] = [];
    const c = t.cached({ redis: client(server.port, { username: "noscripts", password: "secret" }) });
    c.prisma.$cache.on((e) => events.push(e));
    const id = t.ids.posts.hello;
    const want = await c.base.post.findUnique({ where: { id } });
    expect(await c.prisma.post.findUnique({ where: { id } })).toEqual(want);
    await c.prisma.post.update({ where: { id }, data: { title: want!.title } });
    expect(await c.prisma.post.findUnique({ where: { id } })).toEqual(want);
    const degraded = events.filter((e) => e.type === "degraded");
    expect(degraded).toContainEqual(expect.objectContaining({ type: "degraded", internal: "Redis command EVALSHA" }));
    expect(degraded.filter((e) => e.type === "degraded" && e.internal === "Redis command EVALSHA")).toHaveLength(1);
  });
});

/** `ip:port` of a client's connection, as MONITOR names its source (CLIENT INFO's `addr`, asked on that connection). */
async function sourceOf(redis: RedisClient): Promise<string> {
  const info = String(await redisCommand(redis, "CLIENT", "INFO"));
  return /(?:^| )addr=(\S+)/.exec(info)![1]!;
}

/**
 * Records every command the Redis on `port` runs (MONITOR), with its source
 * ("lua" inside a script). `stop()` resolves once everything sent before it
 * has been recorded (a marker ECHO is seen), and ends the recording.
 */
async function recordCommands(port: number, ns: string) {
  const marker = admin(port);
  await marker.ping();
  // A socket of its own, not ioredis' monitor(): ioredis takes a monitor line that arrives in the same chunk as
  // MONITOR's +OK for a reply to a command it never sent ("Command queue state error"), as another client's PING can.
  const socket = connect(port, "127.0.0.1");
  socket.on("error", () => undefined);
  socket.setEncoding("utf8");
  const seen: Array<{ command: string; source: string; args: string[] }> = [];
  const end = `end ${ns}`;
  let started!: () => void;
  let stopped!: () => void;
  const monitoring = new Promise<void>((resolve) => (started = resolve));
  const ended = new Promise<void>((resolve) => (stopped = resolve));
  let pending = "";
  socket.on("data", (chunk: string) => {
    pending += chunk;
    for (let i = pending.indexOf("\r\n"); i >= 0; i = pending.indexOf("\r\n")) {
      const line = pending.slice(0, i);
      pending = pending.slice(i + 2);
      if (line === "+OK") started();
      // +<time> [<db> <source>] "<command>" "<arg>" ...: the source is the client's address, or "lua" inside a script.
      const m = /^\+\d+\.\d+ \[\d+ ([^\]]+)\] (.*)$/.exec(line);
      if (m === null) continue;
      const args = [...m[2]!.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((a) => a[1]!.replace(/\\(.)/g, "$1"));
      if (args[0]?.toLowerCase() === "echo" && args[1] === end) stopped();
      else seen.push({ command: args[0]!.toLowerCase(), source: m[1]!, args: args.slice(1) });
    }
  });
  socket.write("MONITOR\r\n");
  await monitoring;
  const stop = async () => {
    await marker.echo(end);
    await ended;
    socket.destroy();
  };
  return { seen, stop };
}

describe("a miss's Redis commands", () => {
  it("are two scripts besides the query: one reads and takes the lease, one fills and releases it; a hit is one", async () => {
    const server = await startRedisProcess();
    owned.push(server);
    const ns = uniqueNamespace();
    const readerRedis = client(server.port);
    const reader = t.cached({ redis: readerRedis, l1: false }, ns);
    await reader.prisma.$cache.ready();
    // Loads the scripts, and the counters of the model.
    await reader.prisma.post.findMany({ where: { published: true } });
    await reader.prisma.user.findUnique({ where: { email: "nobody@example.com" } });
    const source = await sourceOf(readerRedis);
    const reads: Array<[string, () => Promise<unknown>]> = [
      ["a list", () => reader.prisma.post.findMany({ where: { published: false }, orderBy: { id: "asc" } })],
      ["a findFirst (its row is known after the query)", () => reader.prisma.user.findFirst({ where: { email: { not: "x" } }, orderBy: { id: "asc" } })],
      ["a lookup by a unique key that is not the id", () => reader.prisma.user.findUnique({ where: { email: "somebody-else@example.com" } })],
    ];
    for (const [what, read] of reads) {
      const miss = await recordCommands(server.port, `${ns}-${what}-miss`);
      const value = await read();
      await miss.stop();
      const mine = miss.seen.filter((s) => s.source === source && s.command !== "ping").map((s) => s.command);
      expect(mine, what).toEqual(["evalsha", "evalsha"]);
      const inScripts = miss.seen.filter((s) => s.source === "lua").map((s) => s.command);
      expect(inScripts, what).toContain("set"); // the lease, then the entry
      expect(inScripts, what).toContain("del"); // the lease released
      expect(inScripts, what).not.toContain("publish"); // nobody waited for it: no wake-up (see "lease wake-ups")

      const hit = await recordCommands(server.port, `${ns}-${what}-hit`);
      expect(await read(), what).toEqual(value);
      await hit.stop();
      expect(hit.seen.filter((s) => s.source === source && s.command !== "ping").length, what).toBe(1);
    }
    expect(reader.prisma.$cache.stats().hits.l2).toBe(3);
  });
});

describe("lease wake-ups", () => {
  it("a fill publishes its lease's wake-up only when another process waited for the lease", async () => {
    const server = await startRedisProcess();
    owned.push(server);
    const ns = uniqueNamespace();
    const holder = t.cached({ redis: client(server.port) }, ns);
    const waiter = t.cached({ redis: client(server.port) }, ns);
    await Promise.all([holder.prisma.$cache.ready(), waiter.prisma.$cache.ready()]);
    const { seen, stop } = await recordCommands(server.port, ns);
    // Nobody waits: the miss takes the lease, and its fill releases it without a message.
    await holder.prisma.user.findUnique({ where: { id: t.ids.users.alice } });
    // The waiter finds the holder's lease on another row held while its query waits at the gate.
    const bob = { where: { id: t.ids.users.bob } };
    const gate = holder.counter.gate((q) => /^\s*select/i.test(q.sql) && mentionsTable(q.sql, "User"));
    const held = holder.prisma.user.findUnique(bob).then((row) => row);
    await gate.opened;
    const waiting = new Promise<void>((resolve) => {
      const off = waiter.prisma.$cache.on((e) => e.type === "lease-wait" && (off(), resolve()));
    });
    waiter.counter.reset();
    const woken = waiter.prisma.user.findUnique(bob).then((row) => row);
    await waiting;
    gate.release();
    const [fromHolder, fromWaiter] = await Promise.all([held, woken]);
    await stop();

    const wakeups = seen.filter((s) => s.command === "publish" && s.args[0] === `${ns}:lease`);
    expect(wakeups).toHaveLength(1);
    expect(wakeups[0]!.source).toBe("lua");
    expect(fromWaiter).toEqual(fromHolder);
    expect(selects(waiter.counter)).toBe(0);
    expect(waiter.prisma.$cache.stats()).toMatchObject({ leaseWaits: 1, leaseTimeouts: 0, hits: { l2: 1 } });
    // Neither lease, nor its mark, is left behind.
    expect(await admin(server.port).keys(`${ns}:lock:*`)).toEqual([]);
  });
});

describe("a write's Redis commands", () => {
  /**
   * A Redis of its own, a writer and a reader on one namespace, the Post the
   * tests write, already written once (the scripts are loaded, and the
   * release of that write has gone out) and read by the reader; and the
   * writer's connection as MONITOR names it.
   */
  async function writerAndReader() {
    const server = await startRedisProcess();
    owned.push(server);
    const ns = uniqueNamespace();
    const writerRedis = client(server.port);
    const writer = t.cached({ redis: writerRedis }, ns);
    const reader = t.cached({ redis: client(server.port) }, ns);
    await Promise.all([writer.prisma.$cache.ready(), reader.prisma.$cache.ready()]);
    const id = t.ids.posts.hello;
    await writer.prisma.post.update({ where: { id }, data: { title: `warm-up ${ns}` } });
    await new Promise((resolve) => setImmediate(resolve));
    await reader.prisma.post.findUnique({ where: { id } });
    return { server, ns, writer, reader, id, writerSource: await sourceOf(writerRedis) };
  }

  it("are bump scripts that publish their bus messages themselves: the marks, and after the commit their release", async () => {
    const { server, ns, writer, reader, id, writerSource } = await writerAndReader();
    const { seen, stop } = await recordCommands(server.port, ns);
    const title = `one command ${ns}`;
    await writer.prisma.post.update({ where: { id }, data: { title } });
    await new Promise((resolve) => setImmediate(resolve)); // the release is sent on the writer's next turn
    await reader.prisma.$cache.delivered(writer.prisma.$cache.lastPublished()!);
    await stop();

    // MONITOR shows what a script runs with the source "lua".
    expect(seen.filter((s) => s.source === writerSource && s.command !== "ping").map((s) => s.command)).toEqual(["evalsha", "evalsha"]);
    expect(seen.filter((s) => s.command === "publish").map((s) => s.source)).toEqual(["lua", "lua"]);
    expect((await reader.prisma.post.findUnique({ where: { id } }))?.title).toBe(title);
    expect(reader.prisma.$cache.stats().remoteBumps).toBeGreaterThan(0);
  });

  it("of writes in a row: each write's marks carry the release of the write before, and the last release follows on the next turn", async () => {
    const { server, ns, writer, reader, id, writerSource } = await writerAndReader();
    const { seen, stop } = await recordCommands(server.port, ns);
    for (const n of [1, 2, 3]) await writer.prisma.post.update({ where: { id }, data: { title: `in a row ${n} ${ns}` } });
    // Three marks, the second and third carrying the release before them; the last release on the next turn.
    await new Promise((resolve) => setImmediate(resolve));
    await reader.prisma.$cache.delivered(writer.prisma.$cache.lastPublished()!);
    await stop();

    const fromWriter = seen.filter((s) => s.source === writerSource && s.command !== "ping").map((s) => s.command);
    expect(fromWriter).toEqual(["evalsha", "evalsha", "evalsha", "evalsha"]);
    expect(seen.filter((s) => s.command === "publish")).toHaveLength(4);
    // Every mark was released: no counter of the namespace carries one, and the row is cached again.
    const redis = admin(server.port);
    const keys = await redis.keys(`${ns}:v:*`);
    expect(keys.length).toBeGreaterThan(0);
    const values = await redis.mget(...keys);
    expect(values.filter((v) => v?.includes("~"))).toEqual([]);
    const before = reader.prisma.$cache.stats();
    expect((await reader.prisma.post.findUnique({ where: { id } }))?.title).toBe(`in a row 3 ${ns}`);
    expect(reader.prisma.$cache.stats().fills - before.fills).toBe(1);
    expect(reader.prisma.$cache.stats().fillsRefused - before.fillsRefused).toBe(0);
  });

  it("of a write started while a read of the process waits on the database: one bump script after the write, no marks", async () => {
    const { server, ns, writer, reader, id, writerSource } = await writerAndReader();
    // A read of the writer's own process holds its query at the gate: the process is busy.
    const gate = writer.counter.gate((q) => /^\s*select/i.test(q.sql) && mentionsTable(q.sql, "comments"));
    const reading = writer.prisma.comment.findMany({ orderBy: { id: "asc" } }).then((rows) => rows); // started now
    await gate.opened;
    const { seen, stop } = await recordCommands(server.port, ns);
    const title = `while busy ${ns}`;
    await writer.prisma.post.update({ where: { id }, data: { title } });
    await reader.prisma.$cache.delivered(writer.prisma.$cache.lastPublished()!);
    await stop();
    gate.release();
    await reading;

    // One bump script (no write marks, nothing to release), which publishes its bus message itself.
    expect(seen.filter((s) => s.source === writerSource && s.command !== "ping").map((s) => s.command)).toEqual(["evalsha"]);
    expect(seen.filter((s) => s.command === "publish").map((s) => s.source)).toEqual(["lua"]);
    const values = await admin(server.port).mget(...(await admin(server.port).keys(`${ns}:v:*`)));
    expect(values.filter((v) => v?.includes("~"))).toEqual([]);
    // The other process sees the write at once, and caches the new row again.
    expect((await reader.prisma.post.findUnique({ where: { id } }))?.title).toBe(title);
    const before = reader.prisma.$cache.stats().hits.l1;
    expect((await reader.prisma.post.findUnique({ where: { id } }))?.title).toBe(title);
    expect(reader.prisma.$cache.stats().hits.l1).toBe(before + 1);
  });

  it("bump in Redis even when the user may not PUBLISH: each write is seen from L2, and the refusal is counted", async () => {
    const server = await startRedisProcess();
    owned.push(server);
    await admin(server.port).acl("SETUSER", "nopublish", "on", ">secret", "~*", "&*", "+@all", "-publish");
    const ns = uniqueNamespace();
    const as = () => client(server.port, { username: "nopublish", password: "secret" });
    const writer = t.cached({ redis: as() }, ns);
    const reader = t.cached({ redis: as(), l1: false }, ns);
    await Promise.all([writer.prisma.$cache.ready(), reader.prisma.$cache.ready()]);
    const id = t.ids.posts.hello;
    for (const round of [1, 2, 3]) {
      await reader.prisma.post.findUnique({ where: { id } });
      const title = `no publish ${round} ${ns}`;
      await writer.prisma.post.update({ where: { id }, data: { title } });
      expect((await reader.prisma.post.findUnique({ where: { id } }))?.title).toBe(title);
    }
    expect(writer.prisma.$cache.stats().busErrors).toBeGreaterThanOrEqual(3);
    expect(writer.prisma.$cache.stats().redisErrors).toBe(0);
  });
});
