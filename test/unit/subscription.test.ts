/**
 * The one-channel subscription over an in-process fake connection: it knows
 * whether it is live and how often it became live, subscribes again after a
 * reconnect, retries a failed SUBSCRIBE with a backoff and never sends a
 * second while one is pending, bounds the wait for a connection, tells
 * whether every message published before a barrier arrived, notices a
 * silent connection, and leaves a connection it does not own as it found it.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { ChannelSubscription, type ChannelSubscriptionOptions, RETRY_MIN_MS } from "../../src/coherence/subscription";
import { RedisTimeoutError } from "../../src/errors";
import { FakeRedis, settle } from "../support/fake-redis";

const SUBSCRIBE_TIMEOUT_MS = 1_000;
const COMMAND_TIMEOUT_MS = 100;
const CHANNEL = "ns:bus";

function setup(o: Partial<ChannelSubscriptionOptions> = {}, connection = new FakeRedis()) {
  const publisher = new FakeRedis({ server: connection.server });
  const messages: string[] = [];
  const log: string[] = [];
  const sub = new ChannelSubscription({
    connection: connection.connection.subscriber(),
    owned: true,
    channel: CHANNEL,
    subscribeTimeoutMs: SUBSCRIBE_TIMEOUT_MS,
    commandTimeoutMs: COMMAND_TIMEOUT_MS,
    onMessage: (m) => messages.push(m),
    onActive: (first) => log.push(first ? "active first" : "active again"),
    onFailure: (err) => log.push(`failure${err instanceof RedisTimeoutError ? " (timeout)" : ""}`),
    onError: (err) => log.push(`error ${(err as Error).message}`),
    ...o,
  });
  const publish = async (m: string, channel = CHANNEL) => {
    await publisher.publish(channel, m);
    await settle();
  };
  return { connection, sub, messages, log, publish };
}

beforeAll(() => {
  vi.useFakeTimers();
});
afterAll(() => {
  vi.useRealTimers();
});

describe("ChannelSubscription", () => {
  it("subscribes, delivers the channel's messages in order, and ignores other channels", async () => {
    const { sub, messages, log, publish } = setup();
    expect(sub.active).toBe(false);
    await expect(sub.subscribe()).resolves.toBe(true);
    expect(sub.active).toBe(true);
    expect(sub.epoch).toBe(1);
    await publish("one");
    await publish("other", "ns:elsewhere");
    await publish("two");
    expect(messages).toEqual(["one", "two"]);
    expect(log).toEqual(["active first"]);
  });

  it("subscribes again after a reconnect, as a new epoch, and misses what was published meanwhile", async () => {
    const { sub, connection, messages, log, publish } = setup();
    await sub.subscribe();
    connection.lose();
    expect(sub.active).toBe(false);
    await publish("missed");
    connection.ready();
    await settle();
    expect(sub.active).toBe(true);
    expect(sub.epoch).toBe(2);
    await publish("after");
    expect(messages).toEqual(["after"]);
    expect(log).toEqual(["active first", "active again"]);
  });

  it("retries a failed SUBSCRIBE with a backoff that doubles", async () => {
    const { sub, connection, log } = setup();
    connection.failNext(2, new Error("ECONNRESET"), "subscribe");
    await expect(sub.subscribe()).resolves.toBe(false);
    expect(log).toEqual(["failure"]);
    await vi.advanceTimersByTimeAsync(RETRY_MIN_MS - 1);
    expect(connection.count("subscribe")).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(connection.count("subscribe")).toBe(2);
    expect(log).toEqual(["failure", "failure"]);
    await vi.advanceTimersByTimeAsync(2 * RETRY_MIN_MS - 1);
    expect(sub.active).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(connection.count("subscribe")).toBe(3);
    expect(sub.active).toBe(true);
    expect(log).toEqual(["failure", "failure", "active first"]);
  });

  it("reports a SUBSCRIBE that hangs at the timeout, sends no second one meanwhile, and goes live when it completes", async () => {
    const { sub, connection, log } = setup();
    connection.hang("subscribe");
    const first = sub.subscribe();
    await vi.advanceTimersByTimeAsync(SUBSCRIBE_TIMEOUT_MS);
    await expect(first).resolves.toBe(false);
    expect(log).toEqual(["failure (timeout)"]);
    const second = sub.subscribe(10);
    await vi.advanceTimersByTimeAsync(10);
    await expect(second).resolves.toBe(false);
    expect(connection.count("subscribe")).toBe(1);
    connection.held[0]!.release();
    await settle();
    expect(sub.active).toBe(true);
    expect(log).toEqual(["failure (timeout)", "active first"]);
  });

  it("connects a client that has not connected yet, and subscribes once it is ready", async () => {
    const { sub, connection, log } = setup({}, new FakeRedis({ status: "wait", autoConnect: false }));
    const waiting = sub.subscribe();
    expect(connection.connects).toBe(1);
    expect(connection.count("subscribe")).toBe(0);
    await vi.advanceTimersByTimeAsync(SUBSCRIBE_TIMEOUT_MS);
    await expect(waiting).resolves.toBe(false);
    expect(log).toEqual(["failure (timeout)"]);
    connection.ready();
    await settle();
    expect(sub.active).toBe(true);
    expect(log).toEqual(["failure (timeout)", "active first"]);
  });

  it("barrier(): true once every message published before it arrived; false when it cannot know", async () => {
    const { sub, connection, messages } = setup();
    expect(await sub.barrier()).toBe(false); // not subscribed
    await sub.subscribe();
    const publisher = new FakeRedis({ server: connection.server });
    await publisher.publish(CHANNEL, "before");
    await expect(sub.barrier()).resolves.toBe(true);
    expect(messages).toEqual(["before"]);
    // The subscription is lost while the PING is out: no promise about what was delivered.
    connection.hang("ping");
    const barrier = sub.barrier();
    connection.lose();
    connection.ready();
    await settle();
    connection.held[0]!.release();
    await expect(barrier).resolves.toBe(false);
  });

  it("barrier(): false when the PING does not answer in time", async () => {
    const { sub, connection } = setup();
    await sub.subscribe();
    connection.hang("ping");
    const barrier = sub.barrier();
    await vi.advanceTimersByTimeAsync(COMMAND_TIMEOUT_MS * 2);
    await expect(barrier).resolves.toBe(false);
  });

  it("with a heartbeat, PINGs while subscribed and reports a silence once", async () => {
    const silences: number[] = [];
    const heartbeatMs = 400;
    const { sub, connection } = setup({ heartbeatMs, onSilent: () => silences.push(Date.now()) });
    await sub.subscribe();
    const start = Date.now();
    expect(sub.heardUntil).toBe(start + heartbeatMs);
    await vi.advanceTimersByTimeAsync(heartbeatMs / 4);
    expect(connection.count("ping")).toBe(1);
    expect(sub.heardUntil).toBe(start + heartbeatMs + heartbeatMs / 4);
    // PINGs stop being answered: one report when the heartbeat runs out, not one per beat.
    connection.hang("ping", 100);
    await vi.advanceTimersByTimeAsync(heartbeatMs * 3);
    // Last heard at the first beat's reply: silent from one heartbeat after it.
    expect(silences).toEqual([start + heartbeatMs / 4 + heartbeatMs]);
    // A message shows delivery works again.
    await new FakeRedis({ server: connection.server }).publish(CHANNEL, "x");
    await settle();
    expect(sub.heardUntil).toBe(Date.now() + heartbeatMs);
    for (const h of [...connection.held]) h.fail();
    await sub.close();
  });

  it("reports the connection's errors until closed", async () => {
    const { sub, connection, log } = setup();
    connection.emit("error", new Error("boom"));
    await sub.close();
    connection.emit("error", new Error("after close"));
    expect(log).toEqual(["error boom"]);
  });

  it("close(): ends the waits of a subscribe still pending, and disconnects an owned connection not up yet", async () => {
    const { sub, connection } = setup({}, new FakeRedis({ status: "wait", autoConnect: false }));
    const waiting = sub.subscribe();
    await sub.close();
    await expect(waiting).resolves.toBe(false);
    expect(connection.count("disconnect")).toBe(1);
    expect(connection.status).toBe("end");
    await expect(sub.subscribe()).resolves.toBe(false);
  });

  it("close(): quits an owned connection", async () => {
    const { sub, connection } = setup();
    await sub.subscribe();
    await sub.close();
    await settle();
    expect(connection.count("unsubscribe")).toBe(1);
    expect(connection.count("quit")).toBe(1);
    expect(connection.status).toBe("end");
    expect(sub.active).toBe(false);
  });

  it("close(): unsubscribes a connection it does not own, leaves it open, and removes its listeners", async () => {
    const connection = new FakeRedis();
    const before = connection.eventNames().map((e) => connection.listenerCount(e));
    const { sub, publish, messages } = setup({ owned: false }, connection);
    await sub.subscribe();
    await sub.close();
    expect(connection.status).toBe("ready");
    expect(connection.count("unsubscribe")).toBe(1);
    expect(connection.server.subscriberCount(CHANNEL)).toBe(0);
    expect(connection.eventNames().map((e) => connection.listenerCount(e))).toEqual(before);
    await publish("late");
    expect(messages).toEqual([]);
  });
});
