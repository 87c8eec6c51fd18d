import type { Cluster, Redis } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import { InvalidationBus } from "../../src/coherence/bus";
import { type BumpId, type BusResetReason, encodeBusMessage } from "../../src/coherence/message";
import { BusDeliveryError, type RedisClient } from "../../src/index";
import { connectionOf } from "../../src/redis/detect";
import { redisUrl, uniqueNamespace } from "../support/db";
import { startTcpProxy } from "../support/proxy";
import { adminRedis, closeRedis, connectPort, connectRedis, isRedisReady, quietRedis, whenRedisLost, whenRedisReady } from "../support/redis-client";

/** One simulated process: its own client (of the run's family), its own bus, and what the bus reported. */
interface Proc {
  redis: RedisClient;
  bus: InvalidationBus;
  name: string;
  remote: Array<{ deps: string[]; from: BumpId }>;
  resets: BusResetReason[];
  errors: unknown[];
  /** Every callback in order, e.g. `remote:3`, `reset:gap`. */
  events: string[];
  /** Resolves on the next onReset with `reason`. */
  nextReset(reason: BusResetReason): Promise<void>;
}

const opened: Proc[] = [];
const clients: Array<Redis | Cluster> = [];

/** A connection of the test's own, to publish raw messages and look at Redis. */
function plainClient(): Redis {
  const r = adminRedis(redisUrl()) as Redis;
  clients.push(r);
  return r;
}

function proc(namespace: string, options: { redis?: RedisClient; subscribeTimeoutMs?: number } = {}): Proc {
  const name = `ptc-bus-${Math.random().toString(36).slice(2, 10)}`;
  const redis = options.redis ?? connectRedis(redisUrl(), { name });
  const resetWaiters: Array<{ reason: BusResetReason; resolve: () => void }> = [];
  const p: Proc = {
    redis,
    name,
    remote: [],
    resets: [],
    errors: [],
    events: [],
    nextReset: (reason) => new Promise((resolve) => resetWaiters.push({ reason, resolve })),
    bus: undefined as unknown as InvalidationBus,
  };
  p.bus = new InvalidationBus({
    redis: connectionOf(redis),
    namespace,
    subscribeTimeoutMs: options.subscribeTimeoutMs,
    onRemote: (deps, from) => {
      p.remote.push({ deps, from });
      p.events.push(`remote:${from.seq}`);
    },
    onReset: (reason) => {
      p.resets.push(reason);
      p.events.push(`reset:${reason}`);
      for (const w of resetWaiters.splice(0)) {
        if (w.reason === reason) w.resolve();
        else resetWaiters.push(w);
      }
    },
    onError: (err) => p.errors.push(err),
  });
  opened.push(p);
  return p;
}

afterEach(async () => {
  const procs = opened.splice(0);
  await Promise.all(procs.map((p) => p.bus.close()));
  for (const r of procs) closeRedis(r.redis);
  for (const r of clients.splice(0)) r.disconnect();
});

async function started(namespace: string): Promise<[Proc, Proc]> {
  const a = proc(namespace);
  const b = proc(namespace);
  await Promise.all([a.bus.start(), b.bus.start()]);
  expect(a.bus.subscribed && b.bus.subscribed).toBe(true);
  return [a, b];
}

describe("InvalidationBus", () => {
  it("delivers another instance's bumps, with increasing sequence numbers", async () => {
    const [a, b] = await started(uniqueNamespace());
    expect(a.bus.instanceId).not.toBe(b.bus.instanceId);
    expect(a.resets).toEqual(["connect"]);

    const s1 = await a.bus.publish(["m:Post", "r:User:7"]);
    const s2 = await a.bus.publish(["t:feed"]);
    expect(s1).toBe(1);
    expect(s2).toBe(2);
    await b.bus.delivered(a.bus.instanceId, s2!);

    expect(b.remote).toEqual([
      { deps: ["m:Post", "r:User:7"], from: { instance: a.bus.instanceId, seq: 1 } },
      { deps: ["t:feed"], from: { instance: a.bus.instanceId, seq: 2 } },
    ]);
    expect(b.resets).toEqual(["connect"]); // in order: no gap
    await expect(b.bus.delivered(a.bus.instanceId, 1)).resolves.toBeUndefined(); // already seen
    expect(a.bus.lastSeq).toBe(2);
  });

  it("ignores its own messages", async () => {
    const [a, b] = await started(uniqueNamespace());
    await a.bus.publish(["m:Post"]);
    // A's next message from B arrives after A's own (Redis delivers in publish order), so A has seen its own by then.
    const sb = await b.bus.publish(["m:User"]);
    await a.bus.delivered(b.bus.instanceId, sb!);
    expect(a.remote).toEqual([{ deps: ["m:User"], from: { instance: b.bus.instanceId, seq: 1 } }]);
    await expect(a.bus.delivered(a.bus.instanceId, 1)).rejects.toThrow(/own messages are ignored/);
  });

  it("reports a gap in a remote sequence after delivering the message", async () => {
    const ns = uniqueNamespace();
    const [a, b] = await started(ns);
    const s1 = await a.bus.publish(["m:Post"]);
    await b.bus.delivered(a.bus.instanceId, s1!);

    // Message s1+1 is lost: the next one B sees is s1+2, in A's format.
    await plainClient().publish(b.bus.channel, encodeBusMessage(a.bus.instanceId, s1! + 2, ["m:Tag"]));
    await b.bus.delivered(a.bus.instanceId, s1! + 2);

    expect(b.remote.at(-1)).toEqual({ deps: ["m:Tag"], from: { instance: a.bus.instanceId, seq: 3 } });
    expect(b.events).toEqual(["reset:connect", "remote:1", "remote:3", "reset:gap"]);

    // The "lost" message arriving late is applied, and is no new gap; the sequence goes on from 3.
    await a.bus.publish(["m:Late"]);
    await plainClient().publish(b.bus.channel, encodeBusMessage(a.bus.instanceId, 4, ["m:Next"]));
    await b.bus.delivered(a.bus.instanceId, 4);
    expect(b.events.slice(4)).toEqual(["remote:2", "remote:4"]);
  });

  it("treats a first message from an unknown instance as the start of its sequence", async () => {
    const [, b] = await started(uniqueNamespace());
    await plainClient().publish(b.bus.channel, encodeBusMessage("other", 41, ["m:Post"]));
    await b.bus.delivered("other", 41);
    expect(b.resets).toEqual(["connect"]);
  });

  it("resubscribes after its subscriber connection is killed, then reports a reconnect", async () => {
    const [a, b] = await started(uniqueNamespace());
    const admin = plainClient();
    const subscriberId = async (): Promise<string | undefined> => {
      const list = (await admin.call("CLIENT", "LIST", "TYPE", "pubsub")) as string;
      return list
        .split("\n")
        .find((line) => line.includes(` name=${b.name} `))
        ?.match(/^id=(\d+) /)?.[1];
    };
    const before = await subscriberId();
    expect(before).toBeDefined();

    const reconnected = b.nextReset("reconnect");
    expect(await admin.client("KILL", "ID", before!)).toBe(1);
    await reconnected;

    expect(b.bus.subscribed).toBe(true);
    expect(b.resets).toEqual(["connect", "reconnect"]);
    const after = await subscriberId();
    expect(after).toBeDefined();
    expect(after).not.toBe(before);

    // Delivery works again on the new connection.
    const seq = await a.bus.publish(["m:Post"]);
    await b.bus.delivered(a.bus.instanceId, seq!);
    expect(b.remote.map((r) => r.deps)).toEqual([["m:Post"]]);
  });

  it("ignores malformed messages and reports each to onError", async () => {
    const [a, b] = await started(uniqueNamespace());
    const raw = plainClient();
    const bad = ["not json", "[1,2]", JSON.stringify(["x", 0, ["d"]]), JSON.stringify(["x", 1, [1]]), JSON.stringify(["", 1, []]), "{}"];
    for (const m of bad) await raw.publish(b.bus.channel, m);
    const seq = await a.bus.publish(["m:Post"]);
    await b.bus.delivered(a.bus.instanceId, seq!); // after every bad one
    expect(b.remote).toEqual([{ deps: ["m:Post"], from: { instance: a.bus.instanceId, seq: 1 } }]);
    expect(b.errors).toHaveLength(bad.length);
    expect(String(b.errors[0])).toMatch(/malformed message/);
    expect(b.resets).toEqual(["connect"]);
  });

  it("reports a throwing onRemote as a reset, and goes on", async () => {
    const ns = uniqueNamespace();
    const a = proc(ns);
    const resets: BusResetReason[] = [];
    const errors: unknown[] = [];
    const redis = connectRedis(redisUrl());
    const b = new InvalidationBus({
      redis: connectionOf(redis),
      namespace: ns,
      onRemote: () => {
        throw new Error("boom");
      },
      onReset: (r) => resets.push(r),
      onError: (e) => errors.push(e),
    });
    try {
      await Promise.all([a.bus.start(), b.start()]);
      await a.bus.publish(["m:Post"]);
      const seq = await a.bus.publish(["m:User"]);
      await b.delivered(a.bus.instanceId, seq!);
      expect(resets).toEqual(["connect", "error", "error"]);
      expect(errors.map(String)).toEqual(["Error: boom", "Error: boom"]);
    } finally {
      await b.close();
      closeRedis(redis);
    }
  });

  it("close() rejects pending delivered() promises and quits the subscriber", async () => {
    const [a, b] = await started(uniqueNamespace());
    const outcome = (p: Promise<void>) =>
      p.then(
        () => "resolved",
        (e: unknown) => e,
      );
    const pending = outcome(b.bus.delivered(a.bus.instanceId, 99));
    const timed = outcome(b.bus.delivered(a.bus.instanceId, 100, { timeoutMs: 60_000 }));
    const numsub = async () => ((await plainClient().pubsub("NUMSUB", b.bus.channel)) as [string, number])[1];
    expect(await numsub()).toBe(2);
    await b.bus.close();
    const err = await pending;
    expect(err).toBeInstanceOf(BusDeliveryError);
    expect(err).toMatchObject({ reason: "closed", message: expect.stringMatching(/closed before message 99/) });
    expect(await timed).toMatchObject({ reason: "closed" });
    await expect(b.bus.delivered(a.bus.instanceId, 101)).rejects.toMatchObject({ reason: "closed" });
    expect(await numsub()).toBe(1);
    expect(await b.bus.publish(["m:Post"])).toBeUndefined();
    expect(isRedisReady(b.redis)).toBe(true); // the application's client stays open
  });

  it("delivered() with a timeout rejects when the message never comes", async () => {
    const [a, b] = await started(uniqueNamespace());
    await expect(b.bus.delivered(a.bus.instanceId, 1, { timeoutMs: 50 })).rejects.toMatchObject({ reason: "timeout" });
  });

  it("keeps subscribing while Redis is unreachable, and reports connect once subscribed", async () => {
    const ns = uniqueNamespace();
    const proxy = await startTcpProxy(Number(new URL(redisUrl()).port));
    try {
      proxy.cut();
      const redis = quietRedis(connectPort(proxy.port, { reconnectMs: 20, lazy: true }));
      const b = proc(ns, { redis, subscribeTimeoutMs: 100 });
      const a = proc(ns);
      await a.bus.start();
      const connected = b.nextReset("connect");
      await b.bus.start(); // bounded by subscribeTimeoutMs
      expect(b.bus.subscribed).toBe(false);
      expect(b.resets).toEqual(["error"]);

      proxy.restore();
      await connected;
      expect(b.bus.subscribed).toBe(true);
      expect(b.resets).toEqual(["error", "connect"]);
      const seq = await a.bus.publish(["m:Post"]);
      await b.bus.delivered(a.bus.instanceId, seq!);
      expect(b.remote.map((r) => r.from.seq)).toEqual([seq]);

      // A cut while subscribed: what is published meanwhile is lost; the resubscription reports it.
      const reconnected = b.nextReset("reconnect");
      proxy.cut();
      await a.bus.publish(["m:Lost"]);
      proxy.restore();
      await reconnected;
      const next = await a.bus.publish(["m:After"]);
      await b.bus.delivered(a.bus.instanceId, next!);
      expect(b.remote.map((r) => r.deps[0])).toEqual(["m:Post", "m:After"]);
      expect(b.resets).toEqual(["error", "connect", "reconnect"]); // no extra "gap": tracking restarted on reconnect
      await b.bus.close();
    } finally {
      await proxy.close();
    }
  });

  it("after a lost publish, retries a resync message so receivers see the gap without waiting for the next write", async () => {
    const ns = uniqueNamespace();
    const proxy = await startTcpProxy(Number(new URL(redisUrl()).port));
    try {
      // The writer talks to Redis through the proxy and fails fast while it is cut.
      const redis = quietRedis(connectPort(proxy.port, { reconnectMs: 20, failFast: true }));
      await whenRedisReady(redis);
      const a = proc(ns, { redis });
      const b = proc(ns);
      await Promise.all([a.bus.start(), b.bus.start()]);
      const s1 = await a.bus.publish(["m:Post"]);
      await b.bus.delivered(a.bus.instanceId, s1!);

      const gap = b.nextReset("gap");
      const closed = whenRedisLost(redis);
      proxy.cut();
      await closed; // now the publish is refused, not queued for resending
      expect(await a.bus.publish(["m:Lost"])).toBeUndefined();
      expect(a.errors.length).toBeGreaterThan(0);
      proxy.restore();
      await gap; // the resync (seq 3) arrived: seq 2 was lost
      expect(b.remote.map((r) => r.deps)).toEqual([["m:Post"]]); // the resync carries no deps
      expect(b.events.slice(-2)).toEqual(["remote:1", "reset:gap"]);
      await b.bus.delivered(a.bus.instanceId, 3);
      await a.bus.close();
    } finally {
      await proxy.close();
    }
  });

  it("without a reachable Redis: start() resolves within its timeout, reports an error, and publish() gives undefined", async () => {
    const dead = quietRedis(connectPort(1, { reconnectMs: 100, lazy: true }));
    const p = proc(uniqueNamespace(), { redis: dead, subscribeTimeoutMs: 200 });
    const t0 = Date.now();
    await p.bus.start();
    expect(Date.now() - t0).toBeLessThan(1_500);
    expect(p.bus.subscribed).toBe(false);
    expect(p.resets).toEqual(["error"]);
    expect(await p.bus.publish(["m:Post"])).toBeUndefined();
    expect(p.errors.length).toBeGreaterThan(0);
    await p.bus.close();
  });
});
