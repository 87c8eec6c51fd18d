/**
 * The dogpile lease over an in-process fake Redis, with two managers as two
 * processes on one server: taking and releasing by token, a SET that lands
 * after its timeout released again, waits woken by the release message or
 * found out by a PTTL poll that backs off, "released" told from "expired",
 * and waits that end on their timeout, an abort, a failed poll or close().
 */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { LeaseManager, type LeaseManagerOptions, type LeaseWaitOutcome } from "../../src/coherence/lease";
import { FakeRedis, FakeServer, settle } from "../support/fake-redis";

const TTL_MS = 1_000;
const WAIT_MS = 2_000;
const TIMEOUT_MS = 100;
const LOCK = "ns:lock:k";

/**
 * RELEASE_LEASE in lease.ts: compare-and-delete, then the wake-up on the
 * lease channel if the lease was awaited; and MARK_AWAITED, which a wait
 * sends first: the token gets `~w`.
 */
function stubRelease(server: FakeServer): void {
  server.script("return release_lease(KEYS[1]", (keys, args, s) => {
    const v = s.get(keys[0]!);
    if (args[0] === "" || (v !== args[0] && v !== `${args[0]}~w`)) return 0;
    s.del(keys[0]!);
    if (v === `${args[0]}~w`) s.publish(args[1]!, args[2]!);
    return 1;
  });
  server.script("mark_awaited(KEYS[1])\nreturn 1", (keys, _args, s) => {
    const v = s.get(keys[0]!);
    const left = s.pttl(keys[0]!);
    if (v !== null && !v.endsWith("~w") && left > 0) s.set(keys[0]!, `${v}~w`, left);
    return 1;
  });
}

/** One process's manager, on a connection of its own to `server`. */
function manager(server: FakeServer, o: Partial<LeaseManagerOptions> = {}) {
  const redis = new FakeRedis({ server });
  const errors: unknown[] = [];
  const leases = new LeaseManager({
    redis: redis.connection,
    namespace: "ns",
    ttlMs: TTL_MS,
    waitTimeoutMs: WAIT_MS,
    timeoutMs: TIMEOUT_MS,
    pollMs: 10,
    maxPollMs: 40,
    onError: (err) => errors.push(err),
    ...o,
  });
  return { redis, leases, errors };
}

function setup(o: Partial<LeaseManagerOptions> = {}) {
  const server = new FakeServer();
  stubRelease(server);
  return { server, a: manager(server, { subscriber: false }), b: manager(server, o) };
}

/** A wait whose outcome the test reads once it is there. */
function watch(p: Promise<LeaseWaitOutcome>): { outcome: LeaseWaitOutcome | undefined } {
  const w: { outcome: LeaseWaitOutcome | undefined } = { outcome: undefined };
  void p.then((o) => (w.outcome = o));
  return w;
}

beforeAll(() => {
  vi.useFakeTimers();
});
afterAll(() => {
  vi.useRealTimers();
});

describe("LeaseManager: taking and releasing", () => {
  it("hands the lease to one holder at a time, and releases it only by its token", async () => {
    const { server, a, b } = setup({ subscriber: false });
    const lease = await a.leases.acquire("k");
    expect(lease).toBeDefined();
    expect(server.get(LOCK)).toBe(lease!.token);
    expect(server.pttl(LOCK)).toBe(TTL_MS);
    await expect(b.leases.acquire("k")).resolves.toBeUndefined();
    await expect(b.leases.release("k", "someone else's token")).resolves.toBe(false);
    expect(server.get(LOCK)).toBe(lease!.token);
    await expect(lease!.release()).resolves.toBe(true);
    expect(server.get(LOCK)).toBeNull();
    await expect(lease!.release()).resolves.toBe(false);
    await expect(b.leases.acquire("k")).resolves.toBeDefined();
  });

  it("reads a failed SET as no lease, and reports it", async () => {
    const { a } = setup();
    a.redis.failNext(1, new Error("ECONNRESET"), "set");
    await expect(a.leases.acquire("k")).resolves.toBeUndefined();
    expect(a.errors).toHaveLength(1);
  });

  it("releases at once a lease whose SET landed after its timeout", async () => {
    const { server, a } = setup();
    a.redis.hang("set");
    const taking = a.leases.acquire("k");
    await vi.advanceTimersByTimeAsync(TIMEOUT_MS * 2);
    await expect(taking).resolves.toBeUndefined();
    a.redis.held[0]!.release();
    await settle();
    expect(a.redis.scriptRuns()).toHaveLength(2); // EVALSHA (NOSCRIPT), then EVAL
    expect(server.get(LOCK)).toBeNull();
  });
});

describe("LeaseManager: waiting, by polling", () => {
  it("polls with a backoff that doubles up to maxPollMs, one loop per key however many wait", async () => {
    const { a, b } = setup({ subscriber: false });
    await a.leases.acquire("k", 10_000);
    const waits = [watch(b.leases.waitForRelease("k")), watch(b.leases.waitForRelease("k"))];
    expect(b.leases.stats.waitingKeys).toBe(1);
    await vi.advanceTimersByTimeAsync(200);
    // Polls at 0, 10, 30, 70, 110, 150, 190 ms.
    expect(b.leases.stats.polls).toBe(7);
    expect(b.redis.count("pttl")).toBe(7);
    expect(waits.map((w) => w.outcome)).toEqual([undefined, undefined]);
  });

  it("finds a release by polling: gone well before its TTL ran out is 'released'", async () => {
    const { a, b } = setup({ subscriber: false });
    const lease = await a.leases.acquire("k");
    const w = watch(b.leases.waitForRelease("k"));
    await vi.advanceTimersByTimeAsync(100);
    await lease!.release();
    await settle();
    expect(w.outcome).toBeUndefined(); // no subscription: only the next poll tells
    await vi.advanceTimersByTimeAsync(40);
    expect(w.outcome).toBe("released");
    expect(b.leases.stats).toMatchObject({ wakeups: 1, waitingKeys: 0 });
  });

  it("looks again right after the lease would run out, and calls a lease gone then 'expired'", async () => {
    const { a, b } = setup({ subscriber: false });
    await a.leases.acquire("k", 300);
    const w = watch(b.leases.waitForRelease("k"));
    await vi.advanceTimersByTimeAsync(299);
    expect(w.outcome).toBeUndefined();
    await vi.advanceTimersByTimeAsync(2);
    expect(w.outcome).toBe("expired");
    expect(b.leases.stats.wakeups).toBe(0);
  });

  it("calls a lease taken again between two polls 'released' (more time left than the old one had)", async () => {
    const { server, a, b } = setup({ subscriber: false });
    const first = await a.leases.acquire("k");
    const w = watch(b.leases.waitForRelease("k"));
    await vi.advanceTimersByTimeAsync(300);
    await first!.release();
    await a.leases.acquire("k");
    expect(server.pttl(LOCK)).toBe(TTL_MS);
    await vi.advanceTimersByTimeAsync(40);
    expect(w.outcome).toBe("released");
  });

  it("does not take a poll's answer handled late (a busy event loop) for a lease taken again", async () => {
    const { a, b } = setup({ subscriber: false });
    const lease = await a.leases.acquire("k");
    // The first poll answers at once (1,000 ms left); the second, sent at 10 ms, reads 990 ms left but is
    // handled only at 110 ms: 100 ms of the loop's lag, more than the slack, must not pass for the lease's time.
    const w = watch(b.leases.waitForRelease("k"));
    await vi.advanceTimersByTimeAsync(1);
    expect(b.redis.count("pttl")).toBe(1);
    b.redis.lagNext(100, "pttl", 1);
    await vi.advanceTimersByTimeAsync(150);
    expect(b.redis.count("pttl")).toBeGreaterThanOrEqual(2);
    expect(w.outcome).toBeUndefined();
    expect(b.leases.stats.wakeups).toBe(0);
    await lease!.release();
    await vi.advanceTimersByTimeAsync(200);
    expect(w.outcome).toBe("released");
  });

  it("ends a wait as 'timeout' after waitTimeoutMs while the lease is held", async () => {
    const { a, b } = setup({ subscriber: false });
    await a.leases.acquire("k", 10_000);
    const w = watch(b.leases.waitForRelease("k"));
    await vi.advanceTimersByTimeAsync(WAIT_MS - 1);
    expect(w.outcome).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(w.outcome).toBe("timeout");
    // Its poll loop ends with it.
    const polls = b.leases.stats.polls;
    await vi.advanceTimersByTimeAsync(500);
    expect(b.leases.stats.polls).toBe(polls);
  });

  it("ends a wait as 'timeout' when a poll fails, and reports it", async () => {
    const { a, b } = setup({ subscriber: false });
    await a.leases.acquire("k");
    b.redis.failNext(1, new Error("ECONNRESET"), "pttl");
    const w = watch(b.leases.waitForRelease("k"));
    await settle();
    expect(w.outcome).toBe("timeout");
    expect(b.errors).toHaveLength(1);
  });

  it("wakes this process's own waiters at once when it releases", async () => {
    const { a } = setup();
    const lease = await a.leases.acquire("k");
    const w = watch(a.leases.waitForRelease("k"));
    await settle();
    await lease!.release();
    await settle();
    expect(w.outcome).toBe("released");
  });

  it("ends a wait as 'timeout' when its signal aborts, leaving the other waits on the key", async () => {
    const { a, b } = setup({ subscriber: false });
    const lease = await a.leases.acquire("k");
    const abort = new AbortController();
    const aborted = watch(b.leases.waitForRelease("k", { signal: abort.signal }));
    const other = watch(b.leases.waitForRelease("k"));
    abort.abort();
    await settle();
    expect(aborted.outcome).toBe("timeout");
    expect(b.leases.stats.waitingKeys).toBe(1);
    await lease!.release();
    await vi.advanceTimersByTimeAsync(40);
    expect(other.outcome).toBe("released");
    await expect(b.leases.waitForRelease("k", { signal: abort.signal })).resolves.toBe("timeout");
  });
});

describe("LeaseManager: waiting, woken by the release message", () => {
  it("wakes a waiter in another process as soon as the holder releases", async () => {
    const { a, b } = setup();
    await expect(b.leases.subscribe()).resolves.toBe(true);
    const lease = await a.leases.acquire("k");
    const w = watch(b.leases.waitForRelease("k"));
    await settle();
    const polls = b.leases.stats.polls;
    await lease!.release();
    await settle();
    expect(w.outcome).toBe("released");
    expect(b.leases.stats.polls).toBe(polls);
  });

  it("calls a lease that vanished without a release message 'expired', when the subscription covered the whole wait", async () => {
    const { server, a, b } = setup();
    await b.leases.subscribe();
    await a.leases.acquire("k");
    const w = watch(b.leases.waitForRelease("k"));
    await vi.advanceTimersByTimeAsync(50);
    // Gone long before its TTL, yet no release was published (evicted, or expired on a server with a faster clock).
    server.del(LOCK);
    await vi.advanceTimersByTimeAsync(40);
    expect(w.outcome).toBe("expired");
    expect(b.redis.duplicates[0]!.count("ping")).toBe(1);
  });

  it("without a subscription, judges the same vanish by time: 'released'", async () => {
    const { server, a, b } = setup({ subscriber: false });
    await a.leases.acquire("k");
    const w = watch(b.leases.waitForRelease("k"));
    await vi.advanceTimersByTimeAsync(50);
    server.del(LOCK);
    await vi.advanceTimersByTimeAsync(40);
    expect(w.outcome).toBe("released");
  });

  it("close(): ends every wait as 'timeout', quits its subscriber connection, and takes no more leases", async () => {
    const { a, b } = setup();
    await b.leases.subscribe();
    await a.leases.acquire("k");
    const w = watch(b.leases.waitForRelease("k"));
    await b.leases.close();
    await settle();
    expect(w.outcome).toBe("timeout");
    expect(b.redis.duplicates[0]!.status).toBe("end");
    expect(b.redis.status).toBe("ready"); // the application's client stays open
    await expect(b.leases.acquire("other")).resolves.toBeUndefined();
    expect(b.leases.token()).toBeUndefined();
  });
});
