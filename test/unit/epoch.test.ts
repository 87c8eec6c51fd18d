/**
 * The server epoch over an in-process fake Redis whose check script
 * compares the server's run id with the stored one: the epoch moves when the
 * server changed (a restart, a failover), not on a reconnect to the same
 * server; a reply from before a reconnect is discarded; readers wait at most
 * the timeout; a Redis user without INFO is reported once.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { ConnectionWatch } from "../../src/tiers/connection";
import { layoutFor } from "../../src/tiers/entry";
import { ServerEpoch } from "../../src/tiers/epoch";
import { FakeRedis, settle } from "../support/fake-redis";

const TIMEOUT_MS = 100;

/** The server the fake connection reaches: its run id, and whether INFO is permitted. */
interface ServerState {
  runId: string;
  infoAllowed: boolean;
}

function setup(o: { status?: FakeRedis["status"]; groups?: "one" | "cluster" } = {}) {
  const redis = new FakeRedis({ status: o.status ?? "ready", autoConnect: false });
  const state: ServerState = { runId: "a1", infoAllowed: true };
  // CHECK_SERVER in epoch.ts: KEYS server id key, epoch key; ARGV a new epoch.
  redis.server.script("run_id", (keys, args, server) => {
    const id = state.infoAllowed ? state.runId : "";
    if (server.get(keys[0]!) !== id || server.get(keys[1]!) === null) {
      server.set(keys[0]!, id);
      server.set(keys[1]!, args[0]!);
      return [1, args[0], state.infoAllowed ? 1 : 0];
    }
    return [0, server.get(keys[1]!), state.infoAllowed ? 1 : 0];
  });
  const changes: string[] = [];
  const unknown: unknown[] = [];
  const errors: unknown[] = [];
  let epoch: ServerEpoch | undefined;
  const connection = new ConnectionWatch(redis.connection, () => void epoch?.check());
  epoch = new ServerEpoch({
    redis: redis.connection,
    connection,
    layout: layoutFor("ns", o.groups === "cluster"),
    timeoutMs: TIMEOUT_MS,
    onChanged: (g, first) => changes.push(`${g}${first ? " first" : ""}`),
    onUnknownServer: (err) => unknown.push(err),
    onError: (err) => errors.push(err),
  });
  /** The connection drops and comes back (to whatever server `state` describes now). */
  const reconnect = () => {
    redis.lose();
    redis.ready();
  };
  return { redis, state, epoch, connection, changes, unknown, errors, reconnect };
}

beforeAll(() => {
  vi.useFakeTimers();
});
afterAll(() => {
  vi.useRealTimers();
});

describe("ServerEpoch", () => {
  it("checks once on the first read, and reports the first epoch", async () => {
    const { epoch, changes, redis } = setup();
    expect(epoch.current(0)).toBeUndefined();
    const [a, b] = await Promise.all([epoch.ensure(0), epoch.ensure(0)]);
    expect(a).toBeTypeOf("string");
    expect(b).toBe(a);
    expect(epoch.current(0)).toBe(a);
    expect(changes).toEqual(["0 first"]);
    // Concurrent readers share one check: one EVALSHA (NOSCRIPT), one EVAL.
    expect(redis.count("evalsha") + redis.count("eval")).toBe(2);
  });

  it("keeps the epoch across a reconnect to the same server, but checks again before trusting it", async () => {
    const { epoch, changes, redis, reconnect } = setup();
    const before = await epoch.ensure(0);
    const sent = redis.sent.length;
    redis.lose();
    expect(epoch.current(0)).toBeUndefined();
    redis.ready();
    await settle();
    expect(redis.sent.length).toBeGreaterThan(sent);
    expect(epoch.current(0)).toBe(before);
    reconnect();
    await settle();
    expect(epoch.current(0)).toBe(before);
    expect(changes).toEqual(["0 first"]);
  });

  it("moves the epoch when the server changed (a restart from a snapshot, a failover)", async () => {
    const { epoch, changes, state, reconnect } = setup();
    const before = await epoch.ensure(0);
    state.runId = "b2";
    reconnect();
    await settle();
    const after = epoch.current(0);
    expect(after).toBeTypeOf("string");
    expect(after).not.toBe(before);
    expect(changes).toEqual(["0 first", "0"]);
  });

  it("discards a check's reply that comes after the connection closed", async () => {
    const { epoch, changes, redis } = setup();
    redis.hang(/^eval/, 2);
    const reading = epoch.ensure(0);
    await settle();
    // The connection drops and comes back: the new connection's check is held too.
    redis.lose();
    redis.ready();
    await settle();
    expect(redis.held).toHaveLength(2);
    // The first check's reply arrives now: it answers for a connection that is gone.
    redis.held[0]!.release();
    await settle();
    await expect(reading).resolves.toBeUndefined();
    expect(epoch.current(0)).toBeUndefined();
    expect(changes).toEqual([]);
    // The new connection's own check counts.
    redis.held[0]!.release();
    await settle();
    expect(epoch.current(0)).toBeTypeOf("string");
    expect(changes).toEqual(["0 first"]);
  });

  it("makes a reader wait at most the timeout for a check that hangs, and reports it", async () => {
    const { epoch, redis, errors } = setup();
    redis.hang(/^eval/);
    let got: unknown = "pending";
    void epoch.ensure(0).then((e) => (got = e));
    await vi.advanceTimersByTimeAsync(TIMEOUT_MS - 10);
    expect(got).toBe("pending");
    await vi.advanceTimersByTimeAsync(TIMEOUT_MS);
    expect(got).toBeUndefined();
    expect(errors.length).toBe(1);
    redis.held[0]!.fail();
  });

  it("tries again on the next read after a check failed", async () => {
    const { epoch, redis, errors, changes } = setup();
    redis.failNext(1);
    await expect(epoch.ensure(0)).resolves.toBeUndefined();
    expect(errors).toHaveLength(1);
    await expect(epoch.ensure(0)).resolves.toBeTypeOf("string");
    expect(changes).toEqual(["0 first"]);
  });

  it("waits for a connection that is not up yet, within the timeout", async () => {
    const { epoch, redis } = setup({ status: "connecting" });
    let got: unknown = "pending";
    void epoch.ensure(0).then((e) => (got = e));
    await vi.advanceTimersByTimeAsync(TIMEOUT_MS / 2);
    expect(got).toBe("pending");
    redis.ready();
    await settle();
    expect(got).toBeTypeOf("string");
  });

  it("gives up when the connection does not come up within the timeout", async () => {
    const { epoch, redis } = setup({ status: "connecting" });
    const reading = epoch.ensure(0);
    await vi.advanceTimersByTimeAsync(TIMEOUT_MS + 1);
    await expect(reading).resolves.toBeUndefined();
    expect(redis.sent).toEqual([]);
  });

  it("reports once that the server cannot be identified (INFO not permitted)", async () => {
    const { epoch, state, unknown, reconnect } = setup();
    state.infoAllowed = false;
    await expect(epoch.ensure(0)).resolves.toBeTypeOf("string");
    reconnect();
    await settle();
    expect(unknown).toHaveLength(1);
  });

  it("keeps an epoch per group on a Cluster layout, each checked on its own keys", async () => {
    const { epoch, redis, changes } = setup({ groups: "cluster" });
    await epoch.ensure(3);
    // One check of every group on the connection (16 groups), each under its own hash tag.
    const epochKeys = new Set(redis.scriptRuns().map((r) => r.keys[1]));
    expect(epochKeys.size).toBe(16);
    expect(epoch.current(0)).toBeTypeOf("string");
    expect(epoch.current(0)).not.toBe(epoch.current(3));
    expect(changes).toHaveLength(16);
  });
});
