/**
 * The Redis tier's circuit breaker over an in-process fake connection: it
 * opens after `failures` in a row and stays open for `cooldown`, a success
 * closes it, a command past its deadline counts as a failure (and its late
 * reply changes nothing), a cold start waits for the first connection
 * without opening it, and a refused command is reported once.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { RedisTimeoutError } from "../../src/errors";
import { Breaker, type BreakerOptions } from "../../src/tiers/breaker";
import { ConnectionWatch } from "../../src/tiers/connection";
import { FakeRedis, settle } from "../support/fake-redis";

const TIMEOUT_MS = 100;
const COOLDOWN_MS = 1_000;

function setup(o: Partial<BreakerOptions> = {}, redis = new FakeRedis()) {
  const events: string[] = [];
  const errors: unknown[] = [];
  const connection = new ConnectionWatch(redis.connection, () => undefined);
  const breaker = new Breaker(connection, {
    timeoutMs: TIMEOUT_MS,
    failureThreshold: 3,
    cooldownMs: COOLDOWN_MS,
    onError: (err) => errors.push(err),
    onOpen: (n) => events.push(`open ${n}`),
    onClose: () => events.push("close"),
    onRefused: (command) => events.push(`refused ${command}`),
    ...o,
  });
  const get = () => breaker.call(() => redis.connection.get("k"));
  return { redis, breaker, events, errors, get };
}

// One fake clock for the whole file: command deadlines share one sweep timer per timeout value (commands.ts).
beforeAll(() => {
  vi.useFakeTimers();
});
afterAll(() => {
  vi.useRealTimers();
});

describe("Breaker", () => {
  it("passes replies through, mapped", async () => {
    const { redis, breaker } = setup();
    redis.server.set("k", "41");
    await expect(
      breaker.call(
        () => redis.connection.get("k"),
        (v) => Number(v) + 1,
      ),
    ).resolves.toBe(42);
  });

  it("opens after `failureThreshold` failures in a row, for `cooldownMs`, and reports it once", async () => {
    const { redis, breaker, events, errors, get } = setup();
    redis.failNext(4);
    for (let i = 0; i < 2; i++) await expect(get()).resolves.toBeUndefined();
    expect(breaker.available).toBe(true);
    await get();
    expect(breaker.available).toBe(false);
    expect(breaker.openFor).toBe(COOLDOWN_MS);
    await get(); // a fourth failure while open: reported, not opened again
    expect(events).toEqual(["open 3"]);
    expect(errors).toHaveLength(4);
    vi.advanceTimersByTime(COOLDOWN_MS - 1);
    expect(breaker.available).toBe(false);
    vi.advanceTimersByTime(1);
    expect(breaker.available).toBe(true);
    expect(breaker.openFor).toBe(0);
  });

  it("counts only failures in a row: a success in between starts the count again", async () => {
    const { redis, breaker, get } = setup();
    redis.failNext(2);
    await get();
    await get();
    await get(); // succeeds
    redis.failNext(2);
    await get();
    await get();
    expect(breaker.available).toBe(true);
    redis.failNext(1);
    await get();
    expect(breaker.available).toBe(false);
  });

  it("closes on the first success after it opened, and tells the bump queue", async () => {
    const { redis, breaker, events, get } = setup({ failureThreshold: 1 });
    const successes: number[] = [];
    breaker.onSuccess = () => successes.push(1);
    redis.failNext(1);
    await get();
    expect(breaker.available).toBe(false);
    redis.server.set("k", "v");
    await expect(get()).resolves.toBe("v");
    expect(breaker.available).toBe(true);
    expect(events).toEqual(["open 1", "close"]);
    expect(successes).toHaveLength(1);
  });

  it("gives up on a command after `timeoutMs`: a failure, and its late reply changes nothing", async () => {
    const { redis, breaker, events, errors, get } = setup({ failureThreshold: 1 });
    redis.server.set("k", "late");
    redis.hang("get");
    let result: unknown = "pending";
    void get().then((r) => (result = r));
    await vi.advanceTimersByTimeAsync(TIMEOUT_MS / 2);
    expect(result).toBe("pending");
    await vi.advanceTimersByTimeAsync(TIMEOUT_MS);
    expect(result).toBeUndefined();
    expect(errors[0]).toBeInstanceOf(RedisTimeoutError);
    expect(breaker.available).toBe(false);
    // The reply arrives after its deadline: the circuit stays open, nothing more is reported.
    redis.held[0]!.release();
    await settle();
    expect(breaker.available).toBe(false);
    expect(events).toEqual(["open 1"]);
    expect(errors).toHaveLength(1);
  });

  it("turns a map that throws into a failure", async () => {
    const { redis, breaker, errors } = setup({ failureThreshold: 1 });
    const r = await breaker.call(
      () => redis.connection.get("k"),
      () => {
        throw new Error("bad reply");
      },
    );
    expect(r).toBeUndefined();
    expect((errors[0] as Error).message).toBe("bad reply");
    expect(breaker.available).toBe(false);
  });

  it("on a cold start, waits for the first connection and then sends", async () => {
    const redis = new FakeRedis({ status: "connecting", autoConnect: false });
    redis.server.set("k", "v");
    const { get } = setup({}, redis);
    let result: unknown = "pending";
    void get().then((r) => (result = r));
    await vi.advanceTimersByTimeAsync(TIMEOUT_MS / 2);
    expect(result).toBe("pending");
    expect(redis.count("get")).toBe(0);
    redis.ready();
    await settle();
    expect(result).toBe("v");
  });

  it("on a cold start that does not connect in time, reports a timeout but keeps the circuit closed", async () => {
    const redis = new FakeRedis({ status: "connecting", autoConnect: false });
    const { breaker, errors, events, get } = setup({ failureThreshold: 1 }, redis);
    const r = get();
    await vi.advanceTimersByTimeAsync(TIMEOUT_MS + 1);
    await expect(r).resolves.toBeUndefined();
    expect(errors[0]).toBeInstanceOf(RedisTimeoutError);
    expect(breaker.available).toBe(true);
    expect(events).toEqual([]);
    expect(redis.count("get")).toBe(0);
  });

  it("reports each refused command once, by name", async () => {
    const { redis, events, errors, get } = setup({ failureThreshold: 10 });
    const noperm = () => new Error("NOPERM User cache has no permissions to run the 'get' command");
    redis.failNext(1, noperm());
    redis.failNext(1, noperm());
    redis.failNext(1, new Error("ERR unknown command 'publish'"));
    await get();
    await get();
    await get();
    expect(events).toEqual(["refused GET", "refused PUBLISH"]);
    expect(errors).toHaveLength(3);
  });
});
