/**
 * The read path, whole: the staleness audit's sample, L1, then swr / early
 * refresh, then the database fingerprint, row-level security, the plan's
 * completion, single-flight, L2 with the lease, the database, and the fill.
 * One path for model reads and cached raw reads alike; the runtime only
 * wires it. The pieces live beside it: flight.ts (single-flight), fill.ts
 * (compare-and-set fills), policy.ts (early refresh, grace); the lease is
 * coherence/lease.ts, the Redis scripts tiers/entry.ts. The write path is
 * write-path.ts.
 * @module
 */
import { cloneResult } from "../clone.js";
import { byteSize, decode } from "../codec.js";
import type { LeaseManager } from "../coherence/lease.js";
import type { CacheEvent } from "../events.js";
import type { OpCounters, Stats } from "../stats.js";
import { type L2Entry, type L2ReadResult, LEASE_TAKEN, type LeaseAsk } from "../tiers/entry.js";
import { type L1Entry, LocalGenerations, type MemoryTier, type Timing } from "../tiers/memory.js";
import type { RedisTier } from "../tiers/redis.js";
import { Fill } from "./fill.js";
import type { KeyMemo } from "./key-memo.js";
import { Flights, SKIPPED } from "./flight.js";
import { Policy } from "./policy.js";
import type { Audit } from "../audit.js";
import { Rehearsal } from "./hot.js";
import type { DatabaseIdentity } from "../identity.js";
import type { Planner } from "./planner.js";
import type { RowSecurity } from "./row-security.js";
import {
  type Attempt,
  type Fetched,
  type HeldLease,
  type Load,
  observe,
  type ReadPlan,
  type ReadOutcome,
  type ReadRequest,
  snapshotDeps,
  timingOf,
} from "./request.js";

/** Settings of the read path, and what it asks. */
export interface ReadPathOptions {
  /** Completes plans on an L1 miss. */
  planner: Planner;
  /** Which reads row-level security keeps out of the cache. */
  rowSecurity: RowSecurity;
  /** The database fingerprint, taken before the first L2 read (with Redis only). */
  identity: DatabaseIdentity | undefined;
  /** XFetch beta: 0 turns early refresh off. */
  earlyRefresh: number;
  /** Where events are reported (grace served, failed background refresh, lease waits). */
  events: { emit(event: CacheEvent): void };
  /**
   * Until when other processes' bumps are known to reach this process (the
   * bus, with Redis): L1 entries are served only before it. Without it, always.
   */
  delivery?: { readonly heardUntil: number };
}

/**
 * What the read path reports of its work, when telemetry is on: it runs each
 * miss and each bump (so that spans can wrap them) and is told the time of
 * each L2 read.
 */
export interface PathObserver {
  /** Runs a miss's database query and fill. */
  miss<T>(req: ReadRequest, run: () => Promise<T>): Promise<T>;
  /** Runs a bump in Redis. */
  bump<T>(deps: readonly string[], run: () => Promise<T>): Promise<T>;
  /** One L2 read took `ms`. */
  l2Read(ms: number): void;
}

/** What a peek at L1 found. */
export interface Peeked {
  /** A copy for the caller. */
  value: unknown;
  /** The entry is stale or close to expiry: the caller should start a background refresh. */
  refresh: boolean;
  /** The entry's lifetime. */
  timing: Timing;
}

const DROPPED = Symbol("dropped");

/** The load of an attempt that never queries ({@link ReadPath.loadFromL2}). */
const NO_LOAD: Load = () => Promise.reject(new Error("loading from L2 never queries the database"));

/** Whether a counter's value carries write marks (tiers/versions.ts: `<number>~<writes>~<until>`). */
const isMarked = (version: string): boolean => version.includes("~");

/** The read path of one cache runtime. */
export class ReadPath {
  /** Local generations: bumped by local writes and by the bus. */
  readonly generations = new LocalGenerations();
  private readonly flights = new Flights();
  private readonly policy: Policy;
  /** Telemetry, once it is loaded (see otel.ts). */
  observer: PathObserver | undefined;
  /** The staleness audit (`audit.sampleRate` > 0), set once it exists. */
  audit: Audit | undefined;
  /** A warm start's rehearsal (engine/hot.ts): its reads are neither audited nor counted. */
  readonly rehearsal = new Rehearsal();
  /** Compare-and-set fills (write-through stores through it too). */
  readonly fill: Fill;

  constructor(
    readonly l1: MemoryTier | undefined,
    readonly l2: RedisTier | undefined,
    private readonly leases: LeaseManager | undefined,
    private readonly stats: Stats,
    private readonly options: ReadPathOptions,
  ) {
    this.fill = new Fill(l1, l2, this.generations, stats);
    this.policy = new Policy(options.earlyRefresh, stats);
  }

  /**
   * The read entry, for model reads and cached raw reads alike: L1 (served at
   * once; a stale or early-refresh pick also starts a background refresh),
   * else the plan is completed and the read runs single-flight, L2, the
   * lease, the database and the fill. With Redis, the first miss waits for
   * the database fingerprint (taken once), so that L2 keys can be formed. A
   * read of a table whose row-level security applies to the database user
   * goes to the database unless the client declared a scope. A sampled read
   * is checked by the staleness audit.
   */
  run(plan: ReadPlan, load: Load, scoped: boolean, outcome?: ReadOutcome): Promise<unknown> {
    const audit = this.audit;
    if (audit?.due() && !this.rehearsal.active()) {
      // Sampled: if it turns out to be a hit, the audit reads it again from the database.
      const seen = outcome ?? { status: "bypass", timing: undefined, plan: undefined };
      const read = this.runAs(plan, load, scoped, seen);
      void read.then(
        (value) => audit.check(plan, load, seen, value),
        () => undefined,
      );
      return read;
    }
    return this.runAs(plan, load, scoped, outcome);
  }

  /**
   * {@link run} without the staleness audit's sample: for values the audit
   * cannot check by loading them again (a wrapped function's, whose load is
   * the app's own function: running it twice could cost or do what the cache
   * saves, and it need not read the database).
   */
  runUnaudited(plan: ReadPlan, load: Load, outcome?: ReadOutcome): Promise<unknown> {
    return this.runAs(plan, load, false, outcome);
  }

  private runAs(plan: ReadPlan, load: Load, scoped: boolean, outcome: ReadOutcome | undefined): Promise<unknown> {
    if (outcome) outcome.plan = plan;
    const hit = this.peek(plan.l1Key);
    if (hit !== undefined) {
      plan.counters.l1++;
      if (outcome) observe(outcome, Date.now() < hit.timing.freshUntil ? "l1" : "stale", hit.timing);
      if (!hit.refresh) return Promise.resolve(hit.value);
    }
    const { planner } = this.options;
    const fingerprint = this.options.identity?.ensure();
    if (fingerprint !== undefined) {
      // Serve the hit now; its refresh waits for the fingerprint.
      if (hit !== undefined) void fingerprint.then(() => this.refresh(planner.complete(plan), load));
      return hit !== undefined ? Promise.resolve(hit.value) : fingerprint.then(() => this.l1Miss(plan, load, scoped, outcome));
    }
    if (hit === undefined) return this.l1Miss(plan, load, scoped, outcome);
    this.refresh(planner.complete(plan), load);
    return Promise.resolve(hit.value);
  }

  /** An L1 miss: completes the plan and reads, unless row-level security keeps the read uncached. */
  private l1Miss(plan: ReadPlan, load: Load, scoped: boolean, outcome: ReadOutcome | undefined): Promise<unknown> {
    const request = this.options.planner.complete(plan);
    if (this.options.rowSecurity.secured(request, scoped) === undefined) return this.read(request, load, outcome);
    // Its rows depend on the session (row-level security), which the cache cannot see: not cached unless scoped.
    this.stats.bypass("row-level-security", plan.counters);
    if (outcome) outcome.plan = undefined;
    return load();
  }

  /** How many reads are past L1 and not done (L2, the lease, the database, the fill), background refreshes included. */
  get inFlight(): number {
    return this.flights.size;
  }

  /**
   * Runs `body`, synchronous, and takes back what it added to the hit
   * counters: the L1 hit of a warm start's rehearsal (engine/hot.ts), which
   * runs the hit path but is no read of the app's.
   */
  uncounted<T>(body: () => T): T {
    const { l1Hits, staleServed, earlyRefreshes } = this.stats;
    try {
      return body();
    } finally {
      this.stats.l1Hits = l1Hits;
      this.stats.staleServed = staleServed;
      this.stats.earlyRefreshes = earlyRefreshes;
    }
  }

  /**
   * The value of a read from L1 if it is there and may be served, else
   * undefined. Synchronous, so that an L1 hit costs no promise hop. A stale
   * entry (within `swr`) or one that early refresh picked is served with
   * `refresh: true`.
   */
  peek(l1Key: string): Peeked | undefined {
    const now = Date.now();
    const e = this.current(l1Key, now);
    if (e === undefined) return undefined;
    const t = e.timing;
    if (now < e.checkUntil) {
      this.stats.l1Hits++;
      return { value: cloneResult(e.value), refresh: this.policy.refreshEarly(t, now), timing: t };
    }
    if (now < t.freshUntil || now >= t.staleUntil) return undefined;
    this.stats.l1Hits++;
    this.stats.staleServed++;
    return { value: cloneResult(e.value), refresh: true, timing: t };
  }

  /**
   * The L1 entry of `l1Key` if its dependencies have not moved and the bus
   * is known to deliver at `now` (while it is not, another process's write
   * may be unseen here: Redis is asked instead); its timing is the caller's
   * to check.
   */
  private current(l1Key: string, now: number): L1Entry | undefined {
    const e = this.l1?.get(l1Key);
    if (e === undefined || !this.generations.current(e)) return undefined;
    const delivery = this.options.delivery;
    return delivery !== undefined && now >= delivery.heardUntil ? undefined : e;
  }

  /**
   * An L1 hit found by a read's arguments alone, before any plan is built:
   * the key `memo` remembers for `args`, whose entry is current and fresh,
   * with no early refresh possible, no staleness audit and no rehearsal
   * running. Counted as {@link peek} counts. Otherwise undefined, with
   * nothing counted: the caller takes the whole path ({@link run}). With
   * `orThrow` (a `findUniqueOrThrow` or `findFirstOrThrow`), a cached "not
   * found" is left to the whole path too, which has Prisma raise its error.
   */
  hitByArgs(memo: KeyMemo, args: unknown, counters: OpCounters, orThrow: boolean): Promise<unknown> | undefined {
    // Without L1 (or while it is not served), the arguments are not hashed here: the planner does it once.
    if (this.l1 === undefined || this.audit !== undefined || this.rehearsal.active()) return undefined;
    const key = memo.find(args);
    if (key === undefined) return undefined;
    const now = Date.now();
    const e = this.current(key, now);
    if (e === undefined || (orThrow && e.value === null) || now >= e.checkUntil || !this.policy.surelyFresh(e.timing, now)) return undefined;
    this.stats.l1Hits++;
    counters.l1++;
    return Promise.resolve(cloneResult(e.value));
  }

  /**
   * Read path after an L1 miss (the caller has peeked): joins a running
   * flight for the same key, or runs L2, the lease, then the database.
   * `outcome`, when given, is told how the read was answered.
   */
  read(req: ReadRequest, load: Load, outcome?: ReadOutcome): Promise<unknown> {
    const key = req.l1Key;
    const running = this.flights.running(key);
    if (running) {
      this.stats.coalesced++;
      return running.then((f) => {
        // A background refresh that left the work to another process has nothing to share.
        if (f === SKIPPED) return this.read(req, load, outcome);
        if (outcome) observe(outcome, "coalesced", f.timing);
        return cloneResult(f.stored);
      });
    }
    return this.flights.value(key, this.fetch(req, load), outcome && ((f) => observe(outcome, f.status, f.timing)));
  }

  /**
   * Refreshes an entry in the background, once per key in this process and,
   * through the lease, once in the cluster. Never rejects; failures are
   * counted and reported.
   */
  refresh(req: ReadRequest, load: Load): void {
    if (this.flights.has(req.l1Key)) return;
    this.stats.backgroundRefreshes++;
    const snap = snapshotDeps(req);
    const gens = this.generations.snapshot(snap);
    const clock = this.generations.clock;
    const id = this.l2?.available ? req.l2Id : undefined;
    const gen = this.l2?.gen;
    const run = async (): Promise<Fetched | undefined> => {
      const versions = id !== undefined ? (await this.l2Read(req, id, snap))?.versions : undefined;
      return this.leasedRefresh({ req, load, snap, gens, clock, id, versions, gen });
    };
    this.flights.fetched(req.l1Key, run()).then(
      (r) => r && this.options.events.emit({ type: "refreshed", key: req.l1Key }),
      (error: unknown) => this.options.events.emit({ type: "refresh-error", error }),
    );
  }

  /**
   * The L2 read of `req`: an entry that records its own dependencies (a
   * lookup by another unique key), or one by its snapshot. With `lease`, a
   * miss takes the dogpile lease in the same step.
   */
  private l2Get(l2: RedisTier, req: ReadRequest, id: string, snap: readonly string[], lease?: LeaseAsk): Promise<L2ReadResult | undefined> {
    const read = req.lateDeps ? l2.readRecorded(id, snap, lease) : l2.read(id, snap, lease);
    const observer = this.observer;
    if (observer === undefined) return read;
    const started = performance.now();
    return read.then((r) => (observer.l2Read(performance.now() - started), r));
  }

  /** Reads L2 for `req`, and creates any version counter it found missing. */
  private l2Read(req: ReadRequest, id: string, snap: readonly string[]): Promise<L2ReadResult | undefined> {
    const l2 = this.l2!;
    return this.l2Get(l2, req, id, snap).then((found) =>
      !found?.versions.includes("") ? found : l2.ensureVersions(id, snap, found.versions).then((versions) => ({ entry: undefined, versions })),
    );
  }

  /**
   * L2, then (under the lease) the database. With leases, the first Redis
   * step reads the entry and, on a miss, takes the lease; the fill stores
   * the value and releases it: two round trips besides the query.
   */
  private fetch(req: ReadRequest, load: Load): Promise<Fetched> {
    const snap = snapshotDeps(req);
    const gens = this.generations.snapshot(snap);
    const clock = this.generations.clock;
    const grace = this.policy.graceFromL1(this.l1, this.generations, req);
    const l2 = this.l2;
    const id = req.l2Id;
    if (!l2?.available || id === undefined) return this.miss({ req, load, snap, gens, clock, grace });
    const gen = l2.gen;
    // This process's committed writes release their marks before the read snapshots them.
    l2.sendReleases();
    const token = this.leases?.token();
    const ask = token !== undefined ? { token, px: this.leases!.leaseMs } : undefined;
    return this.l2Get(l2, req, id, snap, ask).then((found) => {
      const held = token !== undefined && found?.lease === LEASE_TAKEN ? { token, released: false } : undefined;
      const hit = this.servable(found?.entry) ? this.serveL2({ req, load, snap, gens, clock, id, gen }, found!.entry!) : undefined;
      if (hit) {
        // Redis and this process disagree on the entry's age: the lease was taken for nothing.
        if (held) void this.leases!.release(id, token!);
        return hit;
      }
      const a = { req, load, snap, gens, clock, id, versions: found?.versions, gen, grace: this.graceFromL2(req, id, found) ?? grace };
      if (held) return a.versions!.some(isMarked) ? this.recheckedMiss({ ...a, lease: held }) : this.heldMiss({ ...a, lease: held });
      // The read found the lease held, and marked it as awaited.
      if (found?.lease !== undefined && found.lease >= 0) return this.waitThenRead(a, true);
      // No lease asked for (lock: false), or Redis found a servable entry this process could not serve.
      return found?.versions.includes("")
        ? l2.ensureVersions(id, snap, found.versions).then((versions) => this.leasedMiss({ ...a, versions }))
        : this.leasedMiss(a);
    });
  }

  /** Whether an L2 entry may be served: fresh, or stale within `swr`. */
  private servable(entry: L2Entry | undefined): entry is L2Entry {
    return entry !== undefined && Date.now() < entry.timing.staleUntil;
  }

  /** Whether an L2 entry is fresh (what a lease holder accepts: a stale one is what it is there to replace). */
  private fresh(entry: L2Entry | undefined): entry is L2Entry {
    return entry !== undefined && Date.now() < entry.timing.freshUntil;
  }

  /**
   * Serves an L2 entry as a hit: decodes it, fills L1, and starts a background
   * refresh when it is stale or early refresh picks it. Undefined when the
   * entry cannot be decoded (it is dropped).
   */
  private serveL2(a: Attempt & { readonly id: string }, entry: L2Entry): Fetched | undefined {
    const { req, id } = a;
    const now = Date.now();
    const t = entry.timing;
    const stale = now >= t.freshUntil;
    const got = this.fromL2(a, id, entry);
    if (got === DROPPED) return undefined;
    const { value, filled, same } = got;
    this.stats.l2Hits++;
    req.counters.l2++;
    if (stale) this.stats.staleServed++;
    // After this flight has settled, so that the refresh is not taken for a joiner of it.
    if (stale || this.policy.refreshEarly(t, now)) setImmediate(() => this.refresh(req, a.load));
    // L1 keeps `value`; the caller gets its own copy only when L1 shares it.
    return { value: filled || same ? cloneResult(value) : value, stored: value, status: stale ? "stale" : "l2", timing: t };
  }

  /**
   * The value of L2 entry `entry` (of id `id`), stored in L1 as the entry of
   * `a`'s read; DROPPED when it cannot be decoded. An entry of the same fill
   * as the one L1 holds for the read (the same lifetime and size: L1 was
   * filled from that body, by this process's miss or an earlier L2 hit) is
   * not decoded again: L1's value is that body's. Such is every check of
   * an L1 entry against L2 after `l1.ttl`. The entry's dependencies are
   * those it recorded, when it did, rather than worked out again from the
   * value. `filled`: whether L1 took it now; `same`: whether L1 held it
   * already (either way, callers get copies).
   */
  private fromL2(a: Attempt, id: string, entry: L2Entry): { value: unknown; filled: boolean; same: boolean } | typeof DROPPED {
    const t = entry.timing;
    const size = byteSize(entry.body);
    const held = this.l1?.get(a.req.l1Key);
    const same = held !== undefined && held.size === size && held.timing.freshUntil === t.freshUntil && held.timing.staleUntil === t.staleUntil;
    const value = same ? held.value : this.decodeOrDrop(id, entry.body);
    if (value === DROPPED) return DROPPED;
    const timing = { ...t, keepUntil: Math.max(t.staleUntil, t.freshUntil + a.req.graceMs) };
    const filled = this.l1 !== undefined && this.fill.l1Entry(a, value, size, timing, entry.deps);
    return { value, filled, same };
  }

  /**
   * Loads a read's entry into L1 from L2, never from the database (a warm
   * start, engine/hot.ts): the plan is completed, L2 is read as for a read
   * (the entry only if its recorded versions are current), and a fresh entry
   * is stored in L1 as an L2 hit stores it (refused if a local generation
   * moved meanwhile). Resolves to whether it stored; false when L1 already
   * holds the read, without L1 or a usable Redis, for a read row-level
   * security keeps out of the cache, and for an entry missing or past its ttl.
   */
  async loadFromL2(plan: ReadPlan): Promise<boolean> {
    const { l1, l2 } = this;
    if (l1 === undefined || l2 === undefined || !l2.available) return false;
    const held = l1.get(plan.l1Key);
    if (held !== undefined && this.generations.current(held) && Date.now() < held.checkUntil) return false;
    await this.options.identity?.ensure();
    const req = this.options.planner.complete(plan);
    const id = req.l2Id;
    if (id === undefined || this.options.rowSecurity.find(req, false) !== undefined) return false;
    const snap = snapshotDeps(req);
    const a = { req, load: NO_LOAD, snap, gens: this.generations.snapshot(snap), clock: this.generations.clock, id, gen: l2.gen };
    const found = await this.l2Get(l2, req, id, snap);
    const entry = found?.entry;
    if (!this.fresh(entry)) return false;
    const got = this.fromL2(a, id, entry);
    return got !== DROPPED && got.filled;
  }

  /**
   * A miss under a lease this attempt holds: queries and fills, and the fill
   * releases the lease. When no fill did (the query failed, Redis did), the
   * lease is released on its own.
   */
  private async heldMiss(a: Attempt & { readonly lease: HeldLease; readonly id: string }): Promise<Fetched> {
    try {
      return await this.miss(a);
    } finally {
      if (a.lease.released) this.leases!.releasedElsewhere(a.id);
      else void this.leases!.release(a.id, a.lease.token);
    }
  }

  /**
   * A miss under a lease this attempt holds, whose snapshot found a write in
   * flight (a counter with a write mark): its fill would be refused. The
   * write has likely committed and its release is on its way, so the
   * versions are read once more before the query.
   */
  private async recheckedMiss(a: Attempt & { readonly lease: HeldLease; readonly id: string }): Promise<Fetched> {
    // Never rejects: a Redis failure reads as undefined (breaker.ts).
    const again = await this.l2Read(a.req, a.id, a.snap);
    return this.heldMiss({ ...a, versions: again?.versions ?? a.versions });
  }

  /**
   * A miss under the regeneration lease, taken on its own: the holder checks
   * L2 once more, then queries and fills; others wait for its release.
   */
  private async leasedMiss(a: Attempt): Promise<Fetched> {
    const { leases } = this;
    const { req, id } = a;
    if (!leases || id === undefined || a.versions === undefined) return this.miss(a);
    const lease = await leases.acquire(id);
    if (!lease) return this.waitThenRead(a);
    // Another process may have filled the entry between our read and our lease.
    const again = await this.l2Read(req, id, a.snap);
    const hit = this.fresh(again?.entry) ? this.serveL2({ ...a, id }, again!.entry!) : undefined;
    if (hit) {
      void lease.release();
      return hit;
    }
    return this.heldMiss({ ...a, id, versions: again?.versions ?? a.versions, lease: { token: lease.token, released: false } });
  }

  /**
   * Another process holds the lease: waits for its release (woken by
   * pub/sub, or a backoff poll), then reads L2 once more, and queries only
   * if the entry is still missing or the wait timed out.
   */
  private async waitThenRead(a: Attempt, marked = false): Promise<Fetched> {
    const { req } = a;
    const id = a.id!;
    this.stats.leaseWaits++;
    this.options.events.emit({ type: "lease-wait", key: req.l1Key });
    const outcome = await this.leases!.waitForRelease(id, { marked });
    if (outcome === "timeout") {
      this.stats.leaseTimeouts++;
      this.options.events.emit({ type: "lease-timeout", key: req.l1Key });
    }
    const again = await this.l2Read(req, id, a.snap);
    const hit = this.servable(again?.entry) ? this.serveL2({ ...a, id }, again!.entry!) : undefined;
    return hit ?? this.miss({ ...a, versions: again?.versions ?? a.versions });
  }

  /** A background refresh under the lease: undefined when another process holds it (the work is its). */
  private async leasedRefresh(a: Attempt): Promise<Fetched | undefined> {
    const { leases } = this;
    const { id } = a;
    if (!leases || id === undefined || a.versions === undefined) return this.miss(a);
    const lease = await leases.acquire(id);
    if (!lease) return undefined;
    return this.heldMiss({ ...a, id, lease: { token: lease.token, released: false } });
  }

  /** Database query, then the compare-and-set fills (in a span when telemetry is on). */
  private miss(a: Attempt): Promise<Fetched> {
    const observer = this.observer;
    return observer ? observer.miss(a.req, () => this.query(a)) : this.query(a);
  }

  /** Database query, then the compare-and-set fills. Serves a grace value if the query fails. */
  private async query(a: Attempt): Promise<Fetched> {
    this.stats.misses++;
    a.req.counters.misses++;
    // The query's time, to the microsecond: early refresh weighs it, and some databases answer in under a millisecond.
    const started = performance.now();
    let value: unknown;
    try {
      value = await a.load(a.req.keyed?.args);
    } catch (error) {
      if (!a.grace || Date.now() >= a.grace.until) throw error;
      this.stats.graceServed++;
      this.options.events.emit({ type: "grace", error });
      return { value: cloneResult(a.grace.value), stored: a.grace.value, status: "grace", timing: a.grace.timing };
    }
    return this.fill.store(a, value, timingOf(a.req, Date.now(), performance.now() - started));
  }

  /** A grace candidate from an L2 entry whose versions are current. */
  private graceFromL2(req: ReadRequest, id: string, found: L2ReadResult | undefined): Attempt["grace"] {
    if (req.graceMs <= 0 || !found?.entry) return undefined;
    const value = this.decodeOrDrop(id, found.entry.body);
    return value === DROPPED ? undefined : this.policy.graceFromL2(req, value, found.entry.timing);
  }

  private decodeOrDrop(id: string, body: string): unknown {
    try {
      return decode(body);
    } catch {
      this.stats.corruptEntries++;
      void this.l2?.remove(id);
      return DROPPED;
    }
  }

  /** Drops every L1 entry. */
  clearL1(): void {
    this.l1?.clear();
  }
}
