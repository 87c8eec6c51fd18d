/**
 * The cache stack: L1, then L2, then the database, with in-process
 * single-flight, compare-and-set fills, and version bumps.
 * @module
 */
import { cloneResult, decode, encode, byteSize } from "../codec.js";
import type { Stats } from "../telemetry.js";
import { LocalGenerations, MemoryTier } from "./memory.js";
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
  lateDeps?(value: unknown): readonly string[];
  /** Milliseconds the value stays fresh. */
  readonly ttlMs: number;
}

/** Dependencies snapshotted before the query: recorded ones and guards. */
const snapshotDeps = (req: ReadRequest): readonly string[] => (req.guards ? [...req.deps, ...req.guards] : req.deps);
/** Dependencies recorded with the entry for `value`. */
const recordedDeps = (req: ReadRequest, value: unknown): readonly string[] => (req.lateDeps ? [...req.deps, ...req.lateDeps(value)] : req.deps);

/** Orchestrates the tiers. */
export class CacheStack {
  /** Local generations: bumped by local writes and by the bus. */
  readonly generations = new LocalGenerations();
  private readonly inflight = new Map<string, Promise<unknown>>();

  constructor(
    readonly l1: MemoryTier | undefined,
    readonly l2: RedisTier | undefined,
    private readonly stats: Stats,
  ) {}

  /**
   * The value of a read from L1 if it is there and fresh, else undefined.
   * Synchronous, so that an L1 hit costs no promise hop.
   */
  peek(l1Key: string): { value: unknown } | undefined {
    const e = this.l1?.get(l1Key);
    if (e === undefined || Date.now() >= e.freshUntil || !this.generations.matches(e.deps, e.gens)) return undefined;
    this.stats.l1Hits++;
    return { value: cloneResult(e.value) };
  }

  /**
   * Read path after an L1 miss (the caller has peeked): joins a running
   * flight for the same key, or runs L2 then the database.
   */
  read(req: ReadRequest, load: () => Promise<unknown>): Promise<unknown> {
    const key = req.l1Key;
    const running = this.inflight.get(key);
    if (running) {
      this.stats.coalesced++;
      return running.then(cloneResult);
    }
    const flight = this.fetch(req, load);
    // Joiners get copies of `stored`; their reactions run before the leader's caller resumes.
    const shared = flight.then((r) => r.stored);
    shared.catch(() => undefined);
    this.inflight.set(key, shared);
    return flight.then(
      (r) => {
        this.inflight.delete(key);
        return r.value;
      },
      (err: unknown) => {
        this.inflight.delete(key);
        throw err;
      },
    );
  }

  /** L2 then database. Returns the caller's value and a private copy for others. */
  private fetch(req: ReadRequest, load: () => Promise<unknown>): Promise<Fetched> {
    const snap = snapshotDeps(req);
    const gens = this.generations.snapshot(snap);
    const l2 = this.l2;
    if (!l2 || !l2.available) return this.miss(req, load, snap, gens, undefined, undefined);
    const id = req.l2Id();
    const read = req.lateDeps ? l2.readRecorded(id, snap, Date.now()) : l2.read(id, snap, Date.now());
    return read.then((found) => {
      if (found?.body !== undefined) {
        const value = this.decodeOrDrop(id, found.body);
        if (value !== DROPPED) {
          this.stats.l2Hits++;
          // L1 keeps `value`; the caller gets its own copy only when L1 shares it.
          const filled = this.fillL1(req, value, byteSize(found.body), snap, gens, found.freshUntil);
          return { value: filled ? cloneResult(value) : value, stored: value };
        }
      }
      return this.miss(req, load, snap, gens, id, found?.versions);
    });
  }

  /** Database query, then the compare-and-set fills of L2 and L1. */
  private async miss(
    req: ReadRequest,
    load: () => Promise<unknown>,
    snap: readonly string[],
    gens: readonly number[],
    id: string | undefined,
    versions: string[] | undefined,
  ): Promise<Fetched> {
    this.stats.misses++;
    const value = await load();
    const body = encode(value);
    const stored = cloneResult(value);
    let storedInL2 = false;
    if (this.l2 && id !== undefined && versions !== undefined) {
      const freshUntil = Date.now() + req.ttlMs;
      const ok = await this.l2.fill(id, snap, versions, body, freshUntil, req.ttlMs, req.lateDeps ? recordedDeps(req, value) : undefined);
      if (ok === false) {
        this.stats.fillsRefused++;
        return { value, stored };
      }
      storedInL2 = ok === true;
    }
    if (!this.generations.matches(snap, gens)) {
      this.stats.fillsRefused++;
    } else if (this.fillL1(req, stored, byteSize(body), snap, gens, Date.now() + req.ttlMs) || storedInL2) {
      this.stats.fills++;
    }
    return { value, stored };
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
  private fillL1(req: ReadRequest, value: unknown, size: number, snap: readonly string[], gens: readonly number[], freshUntil: number): boolean {
    if (!this.l1 || !this.generations.matches(snap, gens)) return false;
    const deps = recordedDeps(req, value);
    this.l1.set(req.l1Key, { value, deps, gens: this.generations.snapshot(deps), freshUntil, size }, Date.now());
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
    const body = encode(value);
    const now = Date.now();
    let stored = this.fillL1(req, cloneResult(value), byteSize(body), snap, gens, now + req.ttlMs);
    if (this.l2) {
      const versions = await this.l2.bump(deps, snap);
      if (versions) {
        const ok = await this.l2.fill(req.l2Id(), snap, snap.map((d) => versions.get(d) ?? ""), body, now + req.ttlMs, req.ttlMs, req.lateDeps ? recordedDeps(req, value) : undefined);
        if (ok === false) this.stats.fillsRefused++;
        stored ||= ok === true;
      }
    }
    if (stored) this.stats.fills++;
  }

  /** Drops every L1 entry. */
  clearL1(): void {
    this.l1?.clear();
  }
}

const DROPPED = Symbol("dropped");

/** A fetched value for the caller, and a private copy for joiners and L1. */
interface Fetched {
  value: unknown;
  stored: unknown;
}
