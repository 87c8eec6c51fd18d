/**
 * The change feed consumer's state machine, over a fake source, a fake lease
 * and a bump the test resolves: a position is acknowledged only after its
 * bump resolved true; a bump Redis did not take ends the run, and the next
 * run starts from the last acknowledged position; a setup error is one
 * `degraded` event and status "failed"; a lost lease stops the run; close()
 * stops the source and gives the lease up.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { FeedSetupError } from "../../src/errors";
import type { CacheEvent } from "../../src/events";
import { ChangeFeed } from "../../src/feed/consumer";
import type { FeedLease } from "../../src/feed/lease";
import type { FeedEvent, FeedSink, FeedSource } from "../../src/feed/source";
import type { FeedTranslator } from "../../src/feed/translate";
import { settle } from "../support/fake-redis";

const LEASE_MS = 3_000;
const EVERYTHING = ["@all"];

/** What the test sees happen, in order, across the source, the lease and the bumps. */
type Log = string[];

/** A source whose start the test decides (resolves, or fails with `startError`), and whose sink the test pushes into. */
class FakeSource implements FeedSource {
  readonly kind = "mysql";
  sink: FeedSink | undefined;
  stopped = false;
  constructor(
    private readonly log: Log,
    readonly keepsPosition: boolean,
    private readonly startWith: () => Promise<{ fresh: boolean }>,
  ) {}
  start(sink: FeedSink, from: string | undefined): Promise<{ fresh: boolean }> {
    this.sink = sink;
    this.log.push(`start from ${from ?? "-"}`);
    return this.startWith();
  }
  async acknowledge(position: string): Promise<void> {
    this.log.push(`ack ${position}`);
  }
  async stop(): Promise<void> {
    this.stopped = true;
    this.log.push("stop");
  }
}

/** The lease, in memory: held while `held`; `save` fails when `saves` is false (another process took it). */
class FakeLease {
  held = true;
  saves = true;
  position: string | undefined;
  releases = 0;
  constructor(private readonly log: Log) {}
  async acquire(): Promise<boolean> {
    return this.held;
  }
  async release(): Promise<void> {
    this.releases++;
    this.log.push("release");
  }
  async load(): Promise<string | undefined> {
    return this.position;
  }
  async save(position: string): Promise<boolean> {
    if (!this.saves) return false;
    this.position = position;
    this.log.push(`save ${position}`);
    return true;
  }
}

/** A bump the test answers: each call waits until `answer()` (or answers at once with `auto`). */
class FakeBump {
  auto: boolean | undefined = true;
  private readonly waiting: Array<(ok: boolean) => void> = [];
  constructor(private readonly log: Log) {}
  readonly bump = (deps: readonly string[]): Promise<boolean> => {
    this.log.push(`bump ${deps.join(",")}`);
    if (this.auto !== undefined) return Promise.resolve(this.auto);
    return new Promise((resolve) => this.waiting.push(resolve));
  };
  get pending(): number {
    return this.waiting.length;
  }
  answer(ok: boolean): void {
    this.waiting.shift()!(ok);
  }
}

/** Each table's model dependency; `everything` events bump the whole namespace. */
const translator = {
  deps: (events: readonly FeedEvent[]) =>
    events.flatMap((e) => (e.kind === "everything" ? EVERYTHING : e.kind === "tables" ? e.tables.map((t) => `m:${t.table}`) : [`m:${e.table}`])),
} as unknown as FeedTranslator;

const insert = (table: string): FeedEvent => ({ kind: "insert", table, oldComplete: false, new: { id: 1 } });

function setup(o: { keepsPosition?: boolean; start?: () => Promise<{ fresh: boolean }>; held?: boolean } = {}) {
  const log: Log = [];
  const lease = new FakeLease(log);
  lease.held = o.held ?? true;
  const bump = new FakeBump(log);
  const sources: FakeSource[] = [];
  const events: CacheEvent[] = [];
  const degraded: CacheEvent[] = [];
  const feed = new ChangeFeed({
    source: () => {
      const s = new FakeSource(log, o.keepsPosition ?? false, o.start ?? (async () => ({ fresh: false })));
      sources.push(s);
      return s;
    },
    kind: "mysql",
    translator,
    lease: lease as unknown as FeedLease,
    leaseMs: LEASE_MS,
    bump: bump.bump,
    everything: EVERYTHING,
    emit: (e) => events.push(e),
    degrade: (e) => degraded.push(e),
  });
  const statuses = () => events.flatMap((e) => (e.type === "feed-status" ? [e.status] : []));
  /** The current run's sink. */
  const sink = () => sources.at(-1)!.sink!;
  return { feed, log, lease, bump, sources, events, degraded, statuses, sink };
}

beforeAll(() => {
  vi.useFakeTimers();
});
afterAll(() => {
  vi.useRealTimers();
});

describe("ChangeFeed", () => {
  it("acknowledges a position only after its bump resolved true", async () => {
    const { feed, log, bump, sink } = setup();
    await settle();
    expect(feed.stats.status).toBe("streaming");
    bump.auto = undefined;
    await sink().push([insert("Post"), insert("User")], "p1", Date.now() - 20);
    await settle();
    expect(log).toEqual(["start from -", "bump m:Post,m:User"]);
    expect(feed.stats.position).toBeUndefined();
    bump.answer(true);
    await settle();
    expect(log).toEqual(["start from -", "bump m:Post,m:User", "ack p1", "save p1"]);
    expect(feed.stats).toMatchObject({ position: "p1", applied: 2, batches: 1, lagMs: 20 });
    await feed.close();
  });

  it("ends the run on a bump that returned false, and starts the next from the last acknowledged position", async () => {
    const { feed, log, sources, sink, bump, statuses } = setup();
    await settle();
    await sink().push([insert("Post")], "p1");
    await settle();
    bump.auto = false;
    await sink().push([insert("User")], "p2");
    await settle();
    expect(sources[0]!.stopped).toBe(true);
    expect(feed.stats).toMatchObject({ status: "waiting", restarts: 1, position: "p1" });
    expect(feed.stats.error).toMatch(/did not take/);
    // Read after the run ended: ignored.
    await sources[0]!.sink!.push([insert("Comment")], "p3");
    bump.auto = true;
    await vi.advanceTimersByTimeAsync(100);
    expect(sources).toHaveLength(2);
    expect(log).toEqual(["start from -", "bump m:Post", "ack p1", "save p1", "bump m:User", "stop", "start from p1"]);
    expect(statuses()).toEqual(["starting", "streaming", "waiting", "starting", "streaming"]);
    await feed.close();
  });

  it("ends the run when the lease cannot store the position (another process took it)", async () => {
    const { feed, log, lease, sink, sources } = setup();
    await settle();
    lease.saves = false;
    await sink().push([insert("Post")], "p1");
    await settle();
    expect(log).toEqual(["start from -", "bump m:Post", "ack p1", "stop"]);
    expect(sources[0]!.stopped).toBe(true);
    expect(feed.stats).toMatchObject({ status: "waiting", position: undefined, batches: 0 });
    await feed.close();
  });

  it("on a fresh start, bumps the whole namespace before it streams", async () => {
    const { feed, log, bump } = setup({ start: async () => ({ fresh: true }) });
    bump.auto = undefined;
    await settle();
    expect(log).toEqual(["start from -", "bump @all"]);
    expect(feed.stats.status).toBe("starting");
    bump.answer(true);
    await settle();
    expect(feed.stats.status).toBe("streaming");
    await feed.close();
  });

  it("does not stream after a fresh start whose bump of the namespace Redis did not take", async () => {
    const { feed, sources, bump } = setup({ start: async () => ({ fresh: true }) });
    bump.auto = false;
    await settle();
    expect(sources[0]!.stopped).toBe(true);
    expect(feed.stats.status).toBe("waiting");
    await feed.close();
  });

  it("ends the run when the source fails, and starts again with a pause that grows", async () => {
    const { feed, sources, sink } = setup();
    await settle();
    sink().fail(new Error("stream lost"));
    await settle();
    expect(feed.stats).toMatchObject({ status: "waiting", error: "stream lost" });
    await vi.advanceTimersByTimeAsync(99);
    expect(sources).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(sources).toHaveLength(2);
    sink().fail(new Error("stream lost again"));
    await vi.advanceTimersByTimeAsync(199);
    expect(sources).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(sources).toHaveLength(3);
    await feed.close();
  });

  it("reports a setup error once as `degraded`, with status 'failed', gives the lease up, and checks again later", async () => {
    const { feed, degraded, lease, sources, statuses } = setup({
      start: () => Promise.reject(new FeedSetupError("wal_level", "wal_level must be logical")),
    });
    await settle();
    expect(degraded).toEqual([{ type: "degraded", internal: "change feed (wal_level)", effect: "wal_level must be logical" }]);
    expect(feed.stats).toMatchObject({ status: "failed", error: "wal_level must be logical" });
    expect(lease.releases).toBe(1);
    expect(sources[0]!.stopped).toBe(true);
    await vi.advanceTimersByTimeAsync(30_000);
    expect(sources).toHaveLength(2);
    expect(degraded).toHaveLength(1);
    expect(statuses()).toEqual(["starting", "failed", "starting", "failed"]);
    await feed.close();
  });

  it("reports each warning of a source once", async () => {
    const { feed, degraded, sink } = setup();
    await settle();
    sink().warn("table Post has no full row image");
    sink().warn("table Post has no full row image");
    expect(degraded).toEqual([{ type: "degraded", internal: "change feed", effect: "table Post has no full row image" }]);
    expect(feed.stats.status).toBe("streaming");
    await feed.close();
  });

  it("stops the run when a renewal finds the lease taken, and stands by", async () => {
    const { feed, lease, sources } = setup();
    await settle();
    lease.held = false;
    await vi.advanceTimersByTimeAsync(LEASE_MS / 3);
    expect(sources[0]!.stopped).toBe(true);
    expect(feed.stats.error).toMatch(/lease was taken/);
    await vi.advanceTimersByTimeAsync(100);
    expect(feed.stats.status).toBe("standby");
    expect(sources).toHaveLength(1);
    await feed.close();
  });

  it("stands by while another process holds the lease, and takes over when it can", async () => {
    const { feed, lease, sources, statuses } = setup({ held: false });
    await settle();
    // Standby is the initial status: no event until it changes.
    expect(feed.stats.status).toBe("standby");
    expect(sources).toHaveLength(0);
    lease.held = true;
    await vi.advanceTimersByTimeAsync(LEASE_MS / 3);
    expect(sources).toHaveLength(1);
    expect(statuses()).toEqual(["starting", "streaming"]);
    await feed.close();
  });

  it("with a source that keeps its own position (a Postgres slot), neither loads nor stores positions", async () => {
    const { feed, log, lease, sink } = setup({ keepsPosition: true });
    lease.position = "stored";
    await settle();
    await sink().push([insert("Post")], "0/16B3748");
    await settle();
    expect(log).toEqual(["start from -", "bump m:Post", "ack 0/16B3748"]);
    expect(feed.stats.position).toBe("0/16B3748");
    await feed.close();
  });

  it("close(): stops the source, gives the lease up, and says 'stopped'", async () => {
    const { feed, log, sources, statuses } = setup();
    await settle();
    await feed.close();
    expect(sources[0]!.stopped).toBe(true);
    expect(log).toEqual(["start from -", "stop", "release"]);
    expect(feed.stats.status).toBe("stopped");
    expect(statuses().at(-1)).toBe("stopped");
    // Once.
    await feed.close();
    expect(log.filter((l) => l === "release")).toHaveLength(1);
  });

  it("close() while a bump is out: the position is not acknowledged", async () => {
    const { feed, log, bump, sink } = setup();
    await settle();
    bump.auto = undefined;
    await sink().push([insert("Post")], "p1");
    await settle();
    const closing = feed.close();
    await settle();
    bump.answer(true);
    await closing;
    expect(log).not.toContain("ack p1");
    expect(feed.stats.position).toBeUndefined();
  });
});
