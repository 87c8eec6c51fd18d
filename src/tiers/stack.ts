/**
 * The cache stack: L1, then L2, then the database. It orchestrates in-process
 * single-flight, the cluster-wide regeneration lease, stale-while-revalidate,
 * probabilistic early refresh (XFetch), grace on database errors,
 * compare-and-set fills, and version bumps.
 * @module
 */
import { byteSize, cloneResult, decode, encode } from "../codec.js";
import type { BusResetReason } from "../coherence/bus.js";
import type { LeaseManager } from "../coherence/lease.js";
import type { Stats } from "../telemetry.js";
import { LocalGenerations, type MemoryTier, type Timing } from "./memory.js";
import type { L2ReadResult } from "./entry.js";
import type { RedisTier } from "./redis.js";

/** One cacheable read, as the extension hands it to the stack. */
export interface ReadRequest {
  /** L1 key: the canonical text of the query (no hashing on the L1 path). */
  readonly l1Key: string;
  /** L2 key id: a hash of the canonical text. Computed only when L2 is consulted. */
  l2Id(): string;
  /** Dependency ids recorded with the entry, known before the query. */
  readonly deps: readonly string[];
  /**
   * Dependency ids that must not move while the query runs (checked by the
   * fill) without being recorded: for a unique lookup, the whole model, since
   * the row it finds is only known afterwards.
   */
  readonly guards?: readonly string[];
  /** Dependency ids recorded with the entry that follow from the result (the row found, or "not found"). */
  readonly lateDeps?: (value: unknown) => readonly string[];
  /** Milliseconds the value stays fresh. */
  readonly ttlMs: number;
  /** Milliseconds past freshness during which it is served stale while being refreshed. */
  readonly swrMs: number;
  /** Milliseconds past freshness during which it is served if the database fails. */
  readonly graceMs: number;
}

/**
 * Something the cache reports besides its counters. Every `key` is the same
 * kind of key: the entry's L1 key, the canonical text of its query (model,
 * operation, arguments, and what the client adds to them).
 */
export type CacheEvent =
  | { type: "grace"; error: unknown }
  | { type: "refresh-error"; error: unknown }
  /** A background refresh stored a new value for `key`. */
  | { type: "refreshed"; key: string }
  | { type: "l1-flushed"; reason: BusResetReason }
  /** A miss on `key` waits for another process's regeneration lease. */
  | { type: "lease-wait"; key: string }
  /** It stopped waiting (`lock.wait`) and queried the database itself. */
  | { type: "lease-timeout"; key: string }
  /** The database fingerprint could not be taken: reads use L1 and the database only, and it is tried again after 1 s. */
  | { type: "fingerprint-error"; error: unknown }
  | {
      type: "bypass";
      /** Why reads through this client are not cached: `query-extension` or `scope-error`. */
      reason: "query-extension" | "scope-error";
      /** The model read, or `$queryRawCached`. */
      model: string;
      /** The operation. */
      operation: string;
      /** What the cache could not see into, and how to declare it. */
      detail: string;
      /** What a scope function threw (`scope-error` only). */
      error?: unknown;
    };

/** Settings of the stack. */
export interface StackOptions {
  /** XFetch beta: 0 turns early refresh off. */
  earlyRefresh: number;
  /** Reports events (grace served, failed background refresh). */
  emit(event: CacheEvent): void;
  /** Whether L2 keys can be formed now (the database fingerprint is known); L2 is skipped until then. */
  l2Keyed(): boolean;
}

/** Dependencies snapshotted before the query: recorded ones and guards. */
const snapshotDeps = (req: ReadRequest): readonly string[] => (req.guards ? [...req.deps, ...req.guards] : req.deps);
/** Dependencies recorded with the entry for `value`. */
const recordedDeps = (req: ReadRequest, value: unknown): readonly string[] => (req.lateDeps ? [...req.deps, ...req.lateDeps(value)] : req.deps);

/** The lifetime of an entry computed now, whose query took `delta` ms. */
function timingOf(req: ReadRequest, now: number, delta: number): Timing {
  const freshUntil = now + req.ttlMs;
  return { freshUntil, staleUntil: freshUntil + req.swrMs, keepUntil: freshUntil + Math.max(req.swrMs, req.graceMs), delta };
}

/** A value the cache may fall back to if the database fails: its copy and until when. */
interface GraceCandidate {
  value: unknown;
  until: number;
}

/** One attempt to produce a value for a read: what was snapshotted before the query. */
interface Attempt {
  readonly req: ReadRequest;
  readonly load: () => Promise<unknown>;
  /** Dependencies snapshotted before the query. */
  readonly snap: readonly string[];
  /** Their local generations then. */
  readonly gens: readonly number[];
  /** L2 key id, when Redis is in use. */
  readonly id?: string;
  /** Their Redis versions then, when Redis answered. */
  readonly versions?: string[];
  /** What to serve if the query fails. */
  readonly grace?: GraceCandidate;
}

/** What a peek at L1 found. */
export interface Peeked {
  /** A copy for the caller. */
  value: unknown;
  /** The entry is stale or close to expiry: the caller should start a background refresh. */
  refresh: boolean;
}

/** Orchestrates the tiers. */
export class CacheStack {
  /** Local generations: bumped by local writes and by the bus. */
  readonly generations = new LocalGenerations();
  private readonly inflight = new Map<string, Promise<unknown>>();

  constructor(
    readonly l1: MemoryTier | undefined,
    readonly l2: RedisTier | undefined,
    private readonly leases: LeaseManager | undefined,
    private readonly stats: Stats,
    private readonly options: StackOptions,
  ) {}

  /**
   * The value of a read from L1 if it is there and may be served, else
   * undefined. Synchronous, so that an L1 hit costs no promise hop. A stale
   * entry (within `swr`) or one that early refresh picked is served with
   * `refresh: true`.
   */
  peek(l1Key: string): Peeked | undefined {
    const e = this.l1?.get(l1Key);
    if (e === undefined || !this.generations.matches(e.deps, e.gens)) return undefined;
    const now = Date.now();
    const t = e.timing;
    if (now < e.checkUntil) {
      this.stats.l1Hits++;
      return { value: cloneResult(e.value), refresh: this.earlyRefresh(t, now) };
    }
    if (now < t.freshUntil || now >= t.staleUntil) return undefined;
    this.stats.l1Hits++;
    this.stats.staleServed++;
    return { value: cloneResult(e.value), refresh: true };
  }

  /**
   * XFetch: refresh early with a probability that grows as expiry nears and
   * with the time the query took: `now - delta * beta * ln(rand) >= expiry`.
   */
  private earlyRefresh(t: Timing, now: number): boolean {
    const beta = this.options.earlyRefresh;
    // -ln(rand) > 20 has probability 2e-9: skip the random draw until then.
    if (beta <= 0 || now + t.delta * beta * 20 < t.freshUntil) return false;
    if (now - t.delta * beta * Math.log(Math.random()) < t.freshUntil) return false;
    this.stats.earlyRefreshes++;
    return true;
  }

  /**
   * Read path after an L1 miss (the caller has peeked): joins a running
   * flight for the same key, or runs L2, the lease, then the database.
   */
  read(req: ReadRequest, load: () => Promise<unknown>): Promise<unknown> {
    const key = req.l1Key;
    const running = this.inflight.get(key);
    if (running) {
      this.stats.coalesced++;
      // A background refresh that left the work to another process has nothing to share.
      return running.then((v) => (v === SKIPPED ? this.read(req, load) : cloneResult(v)));
    }
    return this.fly(key, this.fetch(req, load), true) as Promise<unknown>;
  }

  /**
   * Refreshes an entry in the background, once per key in this process and,
   * through the lease, once in the cluster. Never rejects; failures are
   * counted and reported.
   */
  refresh(req: ReadRequest, load: () => Promise<unknown>): void {
    if (this.inflight.has(req.l1Key)) return;
    this.stats.backgroundRefreshes++;
    const snap = snapshotDeps(req);
    const gens = this.generations.snapshot(snap);
    const id = this.l2?.available && this.options.l2Keyed() ? req.l2Id() : undefined;
    const run = async (): Promise<Fetched | undefined> => {
      const versions = id !== undefined ? (await this.l2Read(req, id, snap))?.versions : undefined;
      return this.leased({ req, load, snap, gens, id, versions }, true);
    };
    (this.fly(req.l1Key, run()) as Promise<Fetched | undefined>).then(
      (r) => r && this.options.emit({ type: "refreshed", key: req.l1Key }),
      (error: unknown) => this.options.emit({ type: "refresh-error", error }),
    );
  }

  /**
   * Registers a flight so that joiners share it, and removes it when it
   * settles. Resolves to the flight's result, or with `valueOnly` to the
   * caller's value (in the same step, saving a promise hop on every miss).
   */
  private fly(key: string, flight: Promise<Fetched | undefined>, valueOnly = false): Promise<Fetched | unknown | undefined> {
    let shared!: Promise<unknown>;
    let resolveShared!: (v: unknown) => void;
    let rejectShared!: (e: unknown) => void;
    shared = new Promise((res, rej) => ((resolveShared = res), (rejectShared = rej)));
    shared.catch(() => undefined);
    this.inflight.set(key, shared);
    const settle = () => {
      if (this.inflight.get(key) === shared) this.inflight.delete(key);
    };
    return flight.then(
      (r) => {
        settle();
        // Joiners get copies of `stored`; their reactions run before the leader's caller resumes.
        resolveShared(r ? r.stored : SKIPPED);
        return valueOnly ? r?.value : r;
      },
      (err: unknown) => {
        settle();
        rejectShared(err);
        throw err;
      },
    );
  }

  /** Reads L2 for `req`, and creates any version counter it found missing. */
  private l2Read(req: ReadRequest, id: string, snap: readonly string[]): Promise<L2ReadResult | undefined> {
    const l2 = this.l2!;
    return (req.lateDeps ? l2.readRecorded(id, snap) : l2.read(id, snap)).then((found) =>
      !found?.versions.includes("") ? found : l2.ensureVersions(snap, found.versions).then((versions) => ({ entry: undefined, versions })),
    );
  }

  /** L2, then (under the lease) the database. */
  private fetch(req: ReadRequest, load: () => Promise<unknown>): Promise<Fetched> {
    const snap = snapshotDeps(req);
    const gens = this.generations.snapshot(snap);
    const grace = this.l1Candidate(req);
    const l2 = this.l2;
    if (!l2?.available || !this.options.l2Keyed()) return this.miss({ req, load, snap, gens, grace });
    const id = req.l2Id();
    return (req.lateDeps ? l2.readRecorded(id, snap) : l2.read(id, snap)).then((found) => {
      const hit = this.serveL2(req, load, id, found, snap, gens);
      if (hit) return hit;
      const next = (versions: string[] | undefined) =>
        this.leased({ req, load, snap, gens, id, versions, grace: this.l2Candidate(req, id, found) ?? grace }, false) as Promise<Fetched>;
      return found?.versions.includes("") ? l2.ensureVersions(snap, found.versions).then(next) : next(found?.versions);
    });
  }

  /** An L2 entry served as a hit (fresh, or stale within swr with a background refresh), else undefined. */
  private serveL2(
    req: ReadRequest,
    load: () => Promise<unknown>,
    id: string,
    found: L2ReadResult | undefined,
    snap: readonly string[],
    gens: readonly number[],
    acceptStale = true,
  ): Fetched | undefined {
    const entry = found?.entry;
    if (!entry) return undefined;
    const now = Date.now();
    const t = entry.timing;
    const stale = now >= t.freshUntil;
    if (stale && (!acceptStale || now >= t.staleUntil)) return undefined;
    const value = this.decodeOrDrop(id, entry.body);
    if (value === DROPPED) return undefined;
    this.stats.l2Hits++;
    const filled =
      this.l1 !== undefined &&
      this.fillL1(req, value, byteSize(entry.body), snap, gens, { ...t, keepUntil: Math.max(t.staleUntil, t.freshUntil + req.graceMs) });
    if (stale) this.stats.staleServed++;
    // After this flight has settled, so that the refresh is not taken for a joiner of it.
    if (stale || this.earlyRefresh(t, now)) setImmediate(() => this.refresh(req, load));
    // L1 keeps `value`; the caller gets its own copy only when L1 shares it.
    return { value: filled ? cloneResult(value) : value, stored: value };
  }

  /**
   * The database query under the regeneration lease: the holder queries and
   * fills; others wait for its release (woken by pub/sub, or a backoff poll),
   * then read L2 once more, and query themselves only if it is still missing
   * or their wait timed out. A background refresh that finds the lease taken
   * leaves the work to its holder.
   */
  private async leased(a: Attempt, background: boolean): Promise<Fetched | undefined> {
    const { leases } = this;
    const { req, id } = a;
    if (!leases || id === undefined || a.versions === undefined) return this.miss(a);
    const lease = await leases.acquire(id);
    if (lease) {
      try {
        if (background) return await this.miss(a);
        // Another process may have filled the entry between our read and our lease.
        const again = await this.l2Read(req, id, a.snap);
        return this.serveL2(req, a.load, id, again, a.snap, a.gens, false) ?? (await this.miss({ ...a, versions: again?.versions ?? a.versions }));
      } finally {
        void lease.release();
      }
    }
    if (background) return undefined;
    this.stats.leaseWaits++;
    this.options.emit({ type: "lease-wait", key: req.l1Key });
    const outcome = await leases.waitForRelease(id);
    if (outcome === "timeout") {
      this.stats.leaseTimeouts++;
      this.options.emit({ type: "lease-timeout", key: req.l1Key });
    }
    const again = await this.l2Read(req, id, a.snap);
    return this.serveL2(req, a.load, id, again, a.snap, a.gens) ?? this.miss({ ...a, versions: again?.versions ?? a.versions });
  }

  /** Database query, then the compare-and-set fills. Serves a grace value if the query fails. */
  private async miss(a: Attempt): Promise<Fetched> {
    this.stats.misses++;
    const started = Date.now();
    let value: unknown;
    try {
      value = await a.load();
    } catch (error) {
      if (!a.grace || Date.now() >= a.grace.until) throw error;
      this.stats.graceServed++;
      this.options.emit({ type: "grace", error });
      return { value: cloneResult(a.grace.value), stored: a.grace.value };
    }
    const now = Date.now();
    return this.store(a, value, timingOf(a.req, now, now - started));
  }

  /**
   * Compare-and-set fills: L2 (refused if a Redis version moved since the
   * snapshot), then L1 (refused if a local generation did). Returns the
   * caller's value and a private copy.
   */
  private async store(a: Attempt, value: unknown, timing: Timing): Promise<Fetched> {
    const { req } = a;
    const body = encode(value);
    const stored = cloneResult(value);
    let storedInL2 = false;
    if (this.l2 && a.id !== undefined && a.versions !== undefined) {
      const ok = await this.l2.fill(a.id, a.snap, a.versions, body, timing, req.lateDeps ? recordedDeps(req, value) : undefined);
      if (ok === false) {
        this.stats.fillsRefused++;
        return { value, stored };
      }
      storedInL2 = ok === true;
    }
    if (!this.generations.matches(a.snap, a.gens)) {
      this.stats.fillsRefused++;
    } else if (this.fillL1(req, stored, byteSize(body), a.snap, a.gens, timing) || storedInL2) {
      this.stats.fills++;
    }
    return { value, stored };
  }

  /** A grace candidate from L1: a current entry, until `freshUntil + grace`. */
  private l1Candidate(req: ReadRequest): GraceCandidate | undefined {
    if (req.graceMs <= 0) return undefined;
    const e = this.l1?.get(req.l1Key);
    if (!e || !this.generations.matches(e.deps, e.gens)) return undefined;
    return { value: e.value, until: e.timing.freshUntil + req.graceMs };
  }

  /** A grace candidate from an L2 entry whose versions are current, until `freshUntil + grace`. */
  private l2Candidate(req: ReadRequest, id: string, found: L2ReadResult | undefined): GraceCandidate | undefined {
    if (req.graceMs <= 0 || !found?.entry) return undefined;
    const value = this.decodeOrDrop(id, found.entry.body);
    return value === DROPPED ? undefined : { value, until: found.entry.timing.freshUntil + req.graceMs };
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

  /**
   * Stores in L1 if nothing in `snap` moved since `gens` was taken. The entry
   * records its dependencies at their current generations (equal to the
   * snapshot for those known before the query). Returns whether it stored.
   */
  private fillL1(req: ReadRequest, value: unknown, size: number, snap: readonly string[], gens: readonly number[], timing: Timing): boolean {
    if (!this.l1 || !this.generations.matches(snap, gens)) return false;
    const deps = recordedDeps(req, value);
    this.l1.set(req.l1Key, { value, deps, gens: this.generations.snapshot(deps), timing, size }, Date.now());
    return true;
  }

  /**
   * Bumps dependency versions: locally at once (L1 entries that depend on them
   * stop being served), then in Redis. Resolves when Redis has them (or failed).
   */
  async bump(deps: readonly string[]): Promise<void> {
    if (deps.length === 0) return;
    this.generations.bump(deps);
    this.stats.invalidations += deps.length;
    if (this.l2) await this.l2.bump(deps);
  }

  /**
   * Write-through: bumps `deps` like {@link bump}, then stores `value` (the
   * write's result) as the entry of `req`. The versions it is stored under
   * are read in the same step as the bump, so a later write refuses the fill.
   */
  async bumpAndStore(deps: readonly string[], req: ReadRequest, value: unknown): Promise<void> {
    const snap = snapshotDeps(req);
    this.generations.bump(deps);
    this.stats.invalidations += deps.length;
    const gens = this.generations.snapshot(snap);
    const bumped = this.l2 ? await this.l2.bump(deps, snap) : undefined;
    const id = bumped && this.options.l2Keyed() ? req.l2Id() : undefined;
    const versions = bumped && id !== undefined ? snap.map((d) => bumped.get(d) ?? "") : undefined;
    await this.store({ req, load: () => Promise.resolve(value), snap, gens, id, versions }, value, timingOf(req, Date.now(), 0));
  }

  /** Drops every L1 entry. */
  clearL1(): void {
    this.l1?.clear();
  }
}

const DROPPED = Symbol("dropped");
const SKIPPED = Symbol("skipped");

/** A fetched value for the caller, and a private copy for joiners and L1. */
interface Fetched {
  value: unknown;
  stored: unknown;
}
