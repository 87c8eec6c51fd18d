/**
 * The stack's orchestration with in-memory fake tiers (pure logic; the
 * integration suites run the same paths on real Redis): single-flight,
 * L2 hits filling L1, compare-and-set refusals, the lease, grace, and
 * stale-while-revalidate. The fake L2 keeps entries and version counters in
 * maps, with the real tier's rules: an entry is served only while the
 * versions it was stored under are current, and a fill is refused when a
 * version moved since its snapshot.
 */
import { describe, expect, it } from "vitest";
import { encode } from "../../src/codec";
import type { LeaseManager } from "../../src/coherence/lease";
import type { ReadRequest } from "../../src/engine/request";
import { ReadPath } from "../../src/engine/read-path";
import type { Planner } from "../../src/engine/planner";
import type { RowSecurity } from "../../src/engine/row-security";
import type { CacheEvent } from "../../src/events";
import { OpCounters, Stats } from "../../src/stats";
import { type L2ReadResult, LEASE_NOT_NEEDED, LEASE_TAKEN, type LeaseAsk } from "../../src/tiers/entry";
import { MemoryTier, type Timing } from "../../src/tiers/memory";
import type { L2Fill, RedisTier } from "../../src/tiers/redis";

class FakeL2 {
  available = true;
  gen = 0;
  readonly versions = new Map<string, number>();
  readonly entries = new Map<string, { body: string; timing: Timing; snap: string[]; versions: string[] }>();
  /** The leases of the test, when it has them: a read that asks takes the lease unless they are held. */
  leases: FakeLeases | undefined;
  private current = (snap: readonly string[]) => snap.map((d) => String(this.versions.get(d) ?? ""));
  async read(id: string, snap: readonly string[], lease?: LeaseAsk): Promise<L2ReadResult> {
    const versions = this.current(snap);
    const e = this.entries.get(id);
    const ok = e && e.snap.join() === snap.join() && e.versions.join() === versions.join();
    const entry = ok ? { body: e.body, timing: e.timing } : undefined;
    if (lease === undefined) return { entry, versions };
    if (entry && Date.now() < entry.timing.staleUntil) return { entry, versions, lease: LEASE_NOT_NEEDED };
    return { entry, versions: await this.ensureVersions(id, snap, versions), lease: this.leases?.held ? 0 : LEASE_TAKEN };
  }
  sendReleases(): void {}
  readRecorded = this.read;
  async ensureVersions(_id: string, snap: readonly string[], versions: string[]): Promise<string[]> {
    for (const d of snap) if (!this.versions.has(d)) this.versions.set(d, 1);
    return versions.map((v, i) => (v === "" ? String(this.versions.get(snap[i]!)) : v));
  }
  async fill(id: string, { snapshot: snap, versions, body, timing, lease }: L2Fill): Promise<{ stored: boolean; released: boolean }> {
    const released = lease !== undefined;
    if (this.current(snap).join() !== versions.join()) return { stored: false, released };
    this.entries.set(id, { body, timing, snap: [...snap], versions: [...versions] });
    return { stored: true, released };
  }
  async bump(deps: readonly string[]): Promise<Map<string, string>> {
    for (const d of deps) this.versions.set(d, (this.versions.get(d) ?? 0) + 1);
    return new Map();
  }
  async remove(id: string): Promise<void> {
    this.entries.delete(id);
  }
}

/** A lease "held by another process" until `release()`; the fake hands out no lease while held. */
class FakeLeases {
  held = false;
  readonly leaseMs = 1_000;
  private waiters: Array<() => void> = [];
  token(): string {
    return "token";
  }
  releasedElsewhere(): void {}
  async acquire(): Promise<{ release(): Promise<boolean> } | undefined> {
    return this.held ? undefined : { release: async () => true };
  }
  waitForRelease(): Promise<"released"> {
    return new Promise((resolve) => this.waiters.push(() => resolve("released")));
  }
  release(): void {
    this.held = false;
    for (const w of this.waiters.splice(0)) w();
  }
}

const l1 = () => new MemoryTier({ max: 100, maxBytes: 1 << 20, ttl: 60 });

function stack(l2: FakeL2 | undefined, leases?: FakeLeases, withL1 = true) {
  if (l2 && leases) l2.leases = leases;
  const stats = new Stats();
  const events: CacheEvent[] = [];
  const listeners: Array<(e: CacheEvent) => void> = [];
  const s = new ReadPath(withL1 ? l1() : undefined, l2 as unknown as RedisTier, leases as unknown as LeaseManager, stats, {
    // The request-level read (`read`) is tested here; plans, row-level security and the fingerprint come before it (`run`).
    planner: undefined as unknown as Planner,
    rowSecurity: undefined as unknown as RowSecurity,
    identity: undefined,
    earlyRefresh: 0,
    events: {
      emit: (e) => {
        events.push(e);
        for (const l of listeners) l(e);
      },
    },
  });
  /** Resolves with the next event of `type`. */
  const next = (type: CacheEvent["type"]) => new Promise<CacheEvent>((resolve) => listeners.push((e) => e.type === type && resolve(e)));
  return { s, stats, events, next };
}

/** Lets 5 ms of wall time pass: entries here live 1 ms, so this only moves the clock past their ttl. */
const pastTtl = () => new Promise((r) => setTimeout(r, 5));

const request = (over: Partial<ReadRequest> = {}): ReadRequest => ({
  l1Key: "User|findMany|{}",
  deps: ["m:User"],
  ttlMs: 60_000,
  swrMs: 0,
  graceMs: 0,
  l2Id: "id1",
  counters: new OpCounters(),
  ...over,
});

describe("the stack, with fake tiers", () => {
  it("single-flight: concurrent misses of one key share one load", async () => {
    const { s, stats } = stack(new FakeL2());
    let loads = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const load = async () => {
      loads++;
      await gate;
      return [{ id: 1 }];
    };
    const reads = Array.from({ length: 50 }, () => s.read(request(), load));
    release();
    const results = await Promise.all(reads);
    expect(loads).toBe(1);
    expect(results.every((r) => JSON.stringify(r) === '[{"id":1}]')).toBe(true);
    expect(results[0]).not.toBe(results[1]); // each caller gets its own copy
    expect(stats.snapshot()).toMatchObject({ misses: 1, coalesced: 49, fills: 1 });
  });

  it("an entry another process filled is an L2 hit, and fills L1", async () => {
    const shared = new FakeL2();
    const a = stack(shared);
    const b = stack(shared);
    await a.s.read(request(), async () => [{ id: 1 }]);
    expect(await b.s.read(request(), async () => expect.unreachable())).toEqual([{ id: 1 }]);
    expect(b.s.peek(request().l1Key)?.value).toEqual([{ id: 1 }]);
    expect(b.stats.snapshot()).toMatchObject({ hits: { l1: 1, l2: 1 }, misses: 0 });
  });

  it("compare-and-set: a bump while the query runs refuses the fill in both tiers", async () => {
    const fake = new FakeL2();
    const { s, stats } = stack(fake);
    const stale = await s.read(request(), async () => {
      // A write lands while the query runs: both tiers are bumped.
      s.generations.bump(["m:User"]);
      await fake.bump(["m:User"]);
      return [{ id: 1, name: "old" }];
    });
    expect(stale).toEqual([{ id: 1, name: "old" }]); // the caller gets what its query read
    expect(stats.snapshot()).toMatchObject({ fills: 0, fillsRefused: 1 });
    expect(s.peek(request().l1Key)).toBeUndefined();
    expect(await s.read(request(), async () => [{ id: 1, name: "new" }])).toEqual([{ id: 1, name: "new" }]);
    expect(stats.snapshot().fills).toBe(1);
  });

  it("the lease: a miss waits for the holder, then is served from L2 without querying", async () => {
    const shared = new FakeL2();
    const leases = new FakeLeases();
    leases.held = true;
    const waiter = stack(shared, leases, false);
    const holder = stack(shared);
    let loads = 0;
    const waiting = waiter.s.read(request(), async () => {
      loads++;
      return "waiter";
    });
    await new Promise((r) => setImmediate(r)); // the waiter's path to the lease is promise steps only
    expect(waiter.events).toContainEqual({ type: "lease-wait", key: request().l1Key });
    await holder.s.read(request(), async () => "holder"); // the holder fills (its own lease is not the fake's)
    leases.release();
    expect(await waiting).toBe("holder");
    expect(loads).toBe(0);
    expect(waiter.stats.snapshot()).toMatchObject({ leaseWaits: 1, hits: { l2: 1 }, misses: 0 });
  });

  it("grace: a failing query is answered with a current value within grace, and the failure is reported", async () => {
    const { s, stats, events } = stack(undefined);
    const req = request({ ttlMs: 1, graceMs: 60_000 });
    await s.read(req, async () => "cached");
    await pastTtl();
    expect(await s.read(req, async () => Promise.reject(new Error("db down")))).toBe("cached");
    expect(stats.snapshot().graceServed).toBe(1);
    expect(events.find((e) => e.type === "grace")).toMatchObject({ type: "grace" });
    // Without grace the error reaches the caller.
    const { s: plain } = stack(undefined);
    await plain.read(request({ ttlMs: 1 }), async () => "cached");
    await pastTtl();
    await expect(plain.read(request({ ttlMs: 1 }), async () => Promise.reject(new Error("db down")))).rejects.toThrow("db down");
  });

  it("stale-while-revalidate: a stale hit is served at once and refreshed once in the background", async () => {
    const { s, stats, events, next } = stack(undefined);
    const req = request({ ttlMs: 1, swrMs: 60_000 });
    await s.read(req, async () => "v1");
    await pastTtl();
    const hit = s.peek(req.l1Key);
    expect(hit).toMatchObject({ value: "v1", refresh: true });
    let loads = 0;
    const refreshed = next("refreshed");
    s.refresh(req, async () => (loads++, "v2"));
    s.refresh(req, async () => (loads++, "v2")); // a second stale hit joins the running refresh
    await refreshed;
    expect(loads).toBe(1);
    expect(events).toContainEqual({ type: "refreshed", key: req.l1Key });
    expect(stats.snapshot()).toMatchObject({ staleServed: 1, backgroundRefreshes: 1 });
    expect(s.peek(req.l1Key)?.value).toBe("v2");
  });

  it("a corrupt L2 entry is a miss, counted and dropped", async () => {
    const shared = new FakeL2();
    const { s, stats } = stack(shared);
    await shared.ensureVersions("id1", ["m:User"], [""]);
    shared.entries.set("id1", {
      body: "not json",
      timing: { freshUntil: Date.now() + 60_000, staleUntil: Date.now() + 60_000, keepUntil: Infinity, delta: 1 },
      snap: ["m:User"],
      versions: ["1"],
    });
    expect(await s.read(request(), async () => "fresh")).toBe("fresh");
    expect(stats.snapshot()).toMatchObject({ corruptEntries: 1, misses: 1 });
    expect(shared.entries.get("id1")?.body).toBe(encode("fresh"));
  });
});
