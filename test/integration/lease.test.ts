import { DEFAULTS } from "../../src/config";
import { Cluster, type Redis } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import { LeaseManager, type LeaseManagerOptions } from "../../src/coherence/lease";
import { connectionOf } from "../../src/redis/detect";
import { redisUrl, uniqueNamespace } from "../support/db";
import { adminRedis, closeRedis, connectPort, connectRedis, isRedisReady, quietRedis, redisCommand } from "../support/redis-client";
import type { RedisClient } from "../../src/index";

const managers: LeaseManager[] = [];
const clients: RedisClient[] = [];
const admins: Array<Redis | Cluster> = [];

/** A client of the run's family. */
function client(): RedisClient {
  const r = connectRedis(redisUrl());
  clients.push(r);
  return r;
}

/** A lease manager on a client of its own: one simulated process. */
function manager(namespace: string, options: Partial<LeaseManagerOptions> = {}): LeaseManager {
  const m = new LeaseManager({
    redis: connectionOf(client()),
    namespace,
    ttlMs: DEFAULTS.lock.ttl,
    waitTimeoutMs: DEFAULTS.lock.wait,
    timeoutMs: DEFAULTS.redisTimeout,
    ...options,
  });
  managers.push(m);
  return m;
}

afterEach(async () => {
  await Promise.all(managers.splice(0).map((m) => m.close()));
  for (const c of clients.splice(0)) closeRedis(c);
  for (const c of admins.splice(0)) c.disconnect();
});

/** A connection of the test's own to look at Redis, once connected. */
const inspect = async (): Promise<Redis | Cluster> => {
  const c = adminRedis(redisUrl());
  admins.push(c);
  if (c.status !== "ready") await new Promise((ready) => c.once("ready", ready));
  return c;
};

/** Subscribers of `channel` (on a Cluster, summed over the masters: each counts its own). */
const numsub = async (channel: string): Promise<number> => {
  const c = await inspect();
  const nodes = c instanceof Cluster ? c.nodes("master") : [c];
  const counts = await Promise.all(nodes.map(async (n) => ((await n.pubsub("NUMSUB", channel)) as [string, number])[1]));
  return counts.reduce((a, b) => a + b, 0);
};

describe("LeaseManager", () => {
  it("lets exactly one of many concurrent acquirers win, across processes", async () => {
    const ns = uniqueNamespace();
    const procs = [manager(ns), manager(ns), manager(ns)];
    const attempts = await Promise.all(Array.from({ length: 30 }, (_, i) => procs[i % 3]!.acquire("k")));
    const winners = attempts.filter((l) => l !== undefined);
    expect(winners).toHaveLength(1);
    const lease = winners[0]!;
    expect(await (await inspect()).get(procs[0]!.lockKey("k"))).toBe(lease.token);
    const pttl = await (await inspect()).pttl(procs[0]!.lockKey("k"));
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(DEFAULTS.lock.ttl);

    expect(await lease.release()).toBe(true);
    expect(await (await inspect()).exists(procs[0]!.lockKey("k"))).toBe(0);
    expect(await lease.release()).toBe(false); // already released
    expect(await procs[1]!.acquire("k")).toBeDefined(); // free again
  });

  it("ignores a release with the wrong token, and an expired holder's release", async () => {
    const ns = uniqueNamespace();
    const m = manager(ns);
    const lease = (await m.acquire("k"))!;
    expect(await m.release("k", "not-the-token")).toBe(false);
    expect(await (await inspect()).get(m.lockKey("k"))).toBe(lease.token);

    // An old holder whose lease ran out must not delete the next holder's lease.
    const old = (await m.acquire("short", 200))!;
    expect(old).toBeDefined();
    const waiter = manager(ns);
    expect(await waiter.waitForRelease("short")).toBe("expired"); // ends when PX runs out
    const next = (await m.acquire("short"))!;
    expect(next).toBeDefined();
    expect(await old.release()).toBe(false);
    expect(await (await inspect()).get(m.lockKey("short"))).toBe(next.token);
  });

  it("wakes a waiter in another process through pub/sub when the lease is released", async () => {
    const ns = uniqueNamespace();
    const holder = manager(ns);
    const waiter = manager(ns, { pollMs: 200, maxPollMs: 200 }); // polls rarely: the wake-up does the work
    expect(await waiter.subscribe()).toBe(true);
    const lease = (await holder.acquire("k"))!;
    const t0 = Date.now();
    const woken = waiter.waitForRelease("k");
    expect(waiter.stats.waitingKeys).toBe(1);
    expect(await lease.release()).toBe(true);
    expect(await woken).toBe("released");
    expect(Date.now() - t0).toBeLessThan(3_000); // well before waitTimeoutMs
    expect(waiter.stats.wakeups).toBe(1);
    expect(waiter.stats.waitingKeys).toBe(0);
  });

  it("wakes local waiters at once on a local release", async () => {
    const m = manager(uniqueNamespace(), { subscriber: false, pollMs: 200 });
    const lease = (await m.acquire("k"))!;
    const woken = m.waitForRelease("k");
    await lease.release();
    expect(await woken).toBe("released");
  });

  it("reports a crashed holder as expired, and the lease can be taken again (no deadlock)", async () => {
    const ns = uniqueNamespace();
    const crashed = manager(ns);
    const waiter = manager(ns);
    expect(await waiter.subscribe()).toBe(true);
    expect(await crashed.acquire("k", 200)).toBeDefined(); // never released
    expect(await waiter.acquire("k")).toBeUndefined();
    const t0 = Date.now();
    expect(await waiter.waitForRelease("k")).toBe("expired");
    expect(Date.now() - t0).toBeLessThan(3_000);
    expect(await waiter.acquire("k")).toBeDefined();
  });

  it("tells released from expired also when polling only", async () => {
    const ns = uniqueNamespace();
    const holder = manager(ns);
    const poller = manager(ns, { subscriber: false });
    const lease = (await holder.acquire("a"))!;
    const released = poller.waitForRelease("a");
    await lease.release();
    expect(await released).toBe("released");

    expect(await holder.acquire("b", 200)).toBeDefined();
    expect(await poller.waitForRelease("b")).toBe("expired");
    expect(await numsub(poller.channel)).toBe(0);
  });

  it("gives up after waitTimeoutMs", async () => {
    const ns = uniqueNamespace();
    const holder = manager(ns);
    const waiter = manager(ns, { waitTimeoutMs: 150 });
    expect(await holder.acquire("k")).toBeDefined();
    const t0 = Date.now();
    expect(await waiter.waitForRelease("k")).toBe("timeout");
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
    expect(waiter.stats.waitingKeys).toBe(0);
  });

  it("ends a wait as timeout when its signal aborts, leaving other waiters", async () => {
    const ns = uniqueNamespace();
    const holder = manager(ns);
    const waiter = manager(ns);
    const lease = (await holder.acquire("k"))!;
    const ac = new AbortController();
    const aborted = waiter.waitForRelease("k", { signal: ac.signal });
    const other = waiter.waitForRelease("k");
    ac.abort();
    expect(await aborted).toBe("timeout");
    expect(waiter.stats.waitingKeys).toBe(1);
    await lease.release();
    expect(await other).toBe("released");
  });

  it("shares one subscription and one poll loop among many waiters", async () => {
    const ns = uniqueNamespace();
    const holder = manager(ns);
    const waiter = manager(ns, { waitTimeoutMs: 300 });
    expect(await numsub(waiter.channel)).toBe(0); // subscribed lazily, on the first wait
    const lease = (await holder.acquire("k"))!;
    expect(await holder.acquire("other")).toBeDefined();
    const waits = Array.from({ length: 50 }, () => waiter.waitForRelease("k"));
    const others = Array.from({ length: 50 }, () => waiter.waitForRelease("other"));
    expect(await waiter.subscribe()).toBe(true); // joins the subscription the first wait started
    expect(await numsub(waiter.channel)).toBe(1);
    expect(waiter.stats.waitingKeys).toBe(2);

    await lease.release();
    expect(new Set(await Promise.all(waits))).toEqual(new Set(["released"]));
    expect(new Set(await Promise.all(others))).toEqual(new Set(["timeout"]));
    // 300 ms of backoff polling (10, 20, 40, 80, 160 ms...) is at most a handful of polls per key, not per waiter.
    expect(waiter.stats.polls).toBeGreaterThanOrEqual(2);
    expect(waiter.stats.polls).toBeLessThanOrEqual(16);
    expect(waiter.stats.waitingKeys).toBe(0);

    await waiter.close();
    expect(await numsub(waiter.channel)).toBe(0);
  });

  it("can subscribe on a connection it is given, and leaves it open on close", async () => {
    const ns = uniqueNamespace();
    const holder = manager(ns);
    const sub = client();
    const waiter = manager(ns, { subscriber: connectionOf(sub), pollMs: 200, maxPollMs: 200 });
    expect(await waiter.subscribe()).toBe(true);
    expect(await numsub(waiter.channel)).toBe(1);
    const lease = (await holder.acquire("k"))!;
    const woken = waiter.waitForRelease("k");
    await lease.release();
    expect(await woken).toBe("released");
    await waiter.close();
    expect(await numsub(waiter.channel)).toBe(0);
    expect(isRedisReady(sub)).toBe(true);
    // Out of subscriber mode, still usable (node-redis 5 with RESP2 answers in Buffers after an UNSUBSCRIBE).
    expect(String(await redisCommand(sub, "PING"))).toBe("PONG");
  });

  it("resolves to undefined and timeout, within its timeouts, when Redis is unreachable", async () => {
    const errors: unknown[] = [];
    const dead = quietRedis(connectPort(1, { reconnectMs: 50, lazy: true }));
    const m = new LeaseManager({
      redis: connectionOf(dead),
      namespace: uniqueNamespace(),
      ttlMs: DEFAULTS.lock.ttl,
      waitTimeoutMs: DEFAULTS.lock.wait,
      timeoutMs: 100,
      onError: (e) => errors.push(e),
    });
    try {
      const t0 = Date.now();
      expect(await m.acquire("k")).toBeUndefined();
      expect(await m.waitForRelease("k")).toBe("timeout");
      expect(await m.release("k", "t")).toBe(false);
      expect(Date.now() - t0).toBeLessThan(1_500);
      expect(errors.length).toBeGreaterThanOrEqual(3);
    } finally {
      await m.close();
      closeRedis(dead);
    }
  });

  it("close() ends pending waits as timeout", async () => {
    const ns = uniqueNamespace();
    const holder = manager(ns);
    const waiter = manager(ns);
    expect(await holder.acquire("k")).toBeDefined();
    const w = waiter.waitForRelease("k");
    await waiter.close();
    expect(await w).toBe("timeout");
    expect(await waiter.waitForRelease("k")).toBe("timeout");
    expect(await waiter.acquire("x")).toBeUndefined();
  });
});
