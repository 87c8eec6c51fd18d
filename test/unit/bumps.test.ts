/**
 * The bump queue over an in-process fake Redis whose bump script keeps
 * plain counters: bumps that Redis did not take wait, bounded, and go with
 * the next write, on the next command that succeeds, on reconnect, or on a
 * timer that waits for the circuit; past the bound the replay bumps the
 * whole namespace; the bus message rides in the script when Redis allows it;
 * a release left for later rides with the next mark.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { OutgoingMessage } from "../../src/coherence/message";
import { ALL_DEP } from "../../src/deps/ids";
import { Breaker } from "../../src/tiers/breaker";
import { type BumpPublisher, BumpQueue, type BumpQueueOptions } from "../../src/tiers/bumps";
import { ConnectionWatch } from "../../src/tiers/connection";
import { layoutFor } from "../../src/tiers/entry";
import { BUMP } from "../../src/tiers/versions";
import { FakeRedis, type FakeServer, settle } from "../support/fake-redis";

const TIMEOUT_MS = 100;
const PREFIX = "ns:v:";
/** MAX_PENDING_BUMPS in bumps.ts. */
const MAX_PENDING = 10_000;

/** One run of the bump script as the fake saw it: the ids bumped, their ops, the ids only read, the bus message. */
interface BumpRun {
  bumped: string[];
  ops: string;
  read: string[];
  channel: string;
}

/**
 * The bump script's behaviour on plain counters: the first ARGV[1] keys
 * move one up (from ARGV[2] when absent), the others are read, the last key
 * is the write sequence; the message is published when a channel is given,
 * and `publishReply` is what the script says of it (1: published).
 */
function stubBump(server: FakeServer, runs: BumpRun[], publishReply: () => unknown = () => 1): void {
  server.script(BUMP, (keys, args) => {
    const n = Number(args[0]);
    const counters = keys.slice(0, -1);
    const out: unknown[] = counters.map((k, i) => {
      if (i >= n) return server.get(k) ?? "";
      const v = String(Number(server.get(k) ?? args[1]) + 1);
      server.set(k, v);
      return v;
    });
    const ids = counters.map((k) => k.slice(PREFIX.length));
    runs.push({ bumped: ids.slice(0, n), ops: args[3]!, read: ids.slice(n), channel: args[5]! });
    if (args[5]) {
      server.publish(args[5], args[6]!);
      out.push(publishReply());
    }
    return out;
  });
}

function setup(o: Partial<BumpQueueOptions> = {}, breakerOptions = { failureThreshold: 100, cooldownMs: 1_000 }) {
  const redis = new FakeRedis();
  const runs: BumpRun[] = [];
  stubBump(redis.server, runs);
  const breaker = new Breaker(new ConnectionWatch(redis.connection, () => undefined), { timeoutMs: TIMEOUT_MS, ...breakerOptions });
  const undelivered: number[] = [];
  const queue = new BumpQueue(redis.connection, breaker, layoutFor("ns", false), {
    timeoutMs: TIMEOUT_MS,
    onUndelivered: (n) => undelivered.push(n),
    ...o,
  });
  return { redis, runs, breaker, queue, undelivered };
}

/** A bus that numbers its messages and records what the queue tells it. */
class FakeBus implements BumpPublisher {
  seq = 0;
  readonly log: string[] = [];
  prepare(deps: readonly string[]): OutgoingMessage | undefined {
    this.seq++;
    this.log.push(`prepare ${this.seq} ${deps.join(",")}`);
    return { seq: this.seq, channel: "ns:bus", text: `${this.seq}|${deps.join(",")}` };
  }
  published(seq: number): void {
    this.log.push(`published ${seq}`);
  }
  lost(seq: number, error?: unknown): void {
    this.log.push(`lost ${seq}${error ? " (error)" : ""}`);
  }
  async publish(deps: readonly string[]): Promise<unknown> {
    this.log.push(`publish ${deps.join(",")}`);
    return undefined;
  }
}

beforeAll(() => {
  vi.useFakeTimers();
});
afterAll(() => {
  vi.useRealTimers();
});

describe("BumpQueue: delivery", () => {
  it("bumps and resolves to the versions after the bump", async () => {
    const { queue, runs } = setup();
    const first = await queue.bump(["a", "b"]);
    const second = await queue.bump(["a"]);
    expect(runs.map((r) => r.bumped)).toEqual([["a", "b"], ["a"]]);
    expect(Number(second!.get("a"))).toBe(Number(first!.get("a")) + 1);
  });

  it("loads the script again (EVAL) on a Redis that lost it, and delivers the bump", async () => {
    const { queue, runs, redis } = setup();
    redis.server.flushScripts();
    await expect(queue.bump(["a"])).resolves.toBeDefined();
    expect(redis.sent.map((c) => c.name)).toEqual(["evalsha", "eval"]);
    expect(runs.map((r) => r.bumped)).toEqual([["a"]]);
  });

  it("reads the versions of `read` in the same script", async () => {
    const { queue, runs, redis } = setup();
    redis.server.set(`${PREFIX}c`, "7");
    const versions = await queue.bump(["a"], { id: "entry", deps: ["c"] });
    expect(runs).toEqual([{ bumped: ["a"], ops: "-", read: ["c"], channel: "" }]);
    expect(versions!.get("c")).toBe("7");
    expect(redis.server.get(`${PREFIX}c`)).toBe("7");
  });
});

describe("BumpQueue: pending bumps and their replay", () => {
  it("keeps a bump Redis did not take, and sends it with the next write", async () => {
    const { queue, runs, redis, undelivered } = setup();
    redis.failNext(1);
    await expect(queue.bump(["a"])).resolves.toBeUndefined();
    expect(undelivered).toEqual([1]);
    await queue.bump(["b"]);
    expect(runs.map((r) => r.bumped)).toEqual([["a", "b"]]);
  });

  it("replays as soon as any command through the breaker succeeds", async () => {
    const { queue, runs, redis, breaker } = setup();
    redis.failNext(1);
    await queue.bump(["a", "b"]);
    expect(runs).toEqual([]);
    await breaker.call(() => redis.connection.get("anything"));
    await settle();
    expect(runs.map((r) => r.bumped)).toEqual([["a", "b"]]);
    // Delivered once: nothing waits any more.
    await vi.advanceTimersByTimeAsync(1_000);
    expect(runs).toHaveLength(1);
  });

  it("replays on reconnect (connected())", async () => {
    const { queue, runs, redis } = setup();
    redis.failNext(1);
    await queue.bump(["a"]);
    queue.connected();
    await settle();
    expect(runs.map((r) => r.bumped)).toEqual([["a"]]);
  });

  it("replays on a timer, not before the circuit closes again", async () => {
    const { queue, runs, redis, breaker } = setup({}, { failureThreshold: 1, cooldownMs: 1_000 });
    redis.failNext(1);
    await queue.bump(["a"]);
    expect(breaker.available).toBe(false);
    await vi.advanceTimersByTimeAsync(999);
    expect(runs).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(runs.map((r) => r.bumped)).toEqual([["a"]]);
  });

  it("retries every 50 ms at least while Redis keeps failing, and keeps the bumps until one succeeds", async () => {
    const { queue, runs, redis, undelivered } = setup();
    redis.failNext(3);
    await queue.bump(["a"]);
    await vi.advanceTimersByTimeAsync(49);
    expect(redis.count("evalsha")).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(redis.count("evalsha")).toBe(2);
    await vi.advanceTimersByTimeAsync(50);
    expect(redis.count("evalsha")).toBe(3);
    expect(runs).toEqual([]);
    await vi.advanceTimersByTimeAsync(50);
    expect(runs.map((r) => r.bumped)).toEqual([["a"]]);
    expect(undelivered).toEqual([1, 1, 1]);
  });

  it("keeps up to MAX_PENDING_BUMPS ids; past it, the replay bumps the whole namespace instead", async () => {
    const everything = ["@all"];
    const { queue, runs, redis, undelivered } = setup({ everything });
    const ids = Array.from({ length: MAX_PENDING + 1 }, (_, i) => `d${i}`);
    redis.failNext(3);
    await queue.bump(ids.slice(0, MAX_PENDING - 1));
    await queue.bump([ids[MAX_PENDING - 1]!]);
    await queue.bump([ids[MAX_PENDING]!]);
    expect(undelivered).toEqual([MAX_PENDING - 1, MAX_PENDING, 1]);
    queue.connected();
    await settle();
    expect(runs.map((r) => r.bumped)).toEqual([everything]);
  });

  it("without `everything`, an overflow bumps the namespace's ALL dependency", async () => {
    const { queue, runs, redis } = setup();
    redis.failNext(1);
    await queue.bump(Array.from({ length: MAX_PENDING + 1 }, (_, i) => `d${i}`));
    await queue.bump(["after"]);
    expect(runs.map((r) => r.bumped)).toEqual([[ALL_DEP, "after"]]);
  });
});

describe("BumpQueue: the bus message", () => {
  it("rides in the bump script, and counts as lost when the script failed", async () => {
    const bus = new FakeBus();
    const { queue, runs, redis } = setup({ bus });
    redis.failNext(1);
    await queue.bump(["a"]);
    await queue.bump(["b"]);
    expect(runs).toEqual([{ bumped: ["a", "b"], ops: "--", read: [], channel: "ns:bus" }]);
    expect(bus.log).toEqual(["prepare 1 a", "lost 1", "prepare 2 a,b", "published 2"]);
  });

  it("is published on its own, for good, once Redis refused PUBLISH in the script", async () => {
    const bus = new FakeBus();
    const { queue, runs, redis } = setup({ bus });
    runs.length = 0;
    // The script's answer when Redis refused the PUBLISH inside it.
    stubBump(redis.server, runs, () => "NOPERM this user has no permissions to access the 'ns:bus' channel");
    await queue.bump(["a"]);
    await queue.bump(["b"]);
    expect(bus.log).toEqual(["prepare 1 a", "lost 1 (error)", "publish a", "publish b"]);
    expect(runs.map((r) => r.channel)).toEqual(["ns:bus", ""]);
  });
});

describe("BumpQueue: marks and releases", () => {
  it("sends a release left for later with the next mark, in one script (release-and-mark)", async () => {
    const { queue, runs } = setup();
    queue.releaseSoon(["a"]);
    await expect(queue.mark(["a", "b"], 500)).resolves.toBe(true);
    expect(runs).toEqual([{ bumped: ["a", "b"], ops: "xm", read: [], channel: "" }]);
    await vi.advanceTimersByTimeAsync(0); // the turn releaseSoon scheduled: nothing left to send
    expect(runs).toHaveLength(1);
  });

  it("sends a release left for later on the next turn when no write comes first", async () => {
    const { queue, runs } = setup();
    queue.releaseSoon(["a"]);
    queue.releaseSoon(["b"]);
    expect(runs).toEqual([]);
    await vi.advanceTimersByTimeAsync(0);
    expect(runs).toEqual([{ bumped: ["a", "b"], ops: "rr", read: [], channel: "" }]);
  });

  it("queues a release Redis did not take as a plain bump, replayed like any other", async () => {
    const { queue, runs, redis } = setup();
    redis.failNext(1);
    await queue.release(["a"]);
    queue.connected();
    await settle();
    expect(runs).toEqual([{ bumped: ["a"], ops: "-", read: [], channel: "" }]);
  });

  it("reports a mark Redis did not take", async () => {
    const { queue, redis } = setup();
    redis.failNext(1);
    await expect(queue.mark(["a"], 500)).resolves.toBe(false);
  });
});
