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
  /** Dependency ids. */
  readonly deps: readonly string[];
  /** Milliseconds the value stays fresh. */
  readonly ttlMs: number;
}

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

  /** Full read path after an L1 miss: single-flight, L2, database, fill. */
  async read(req: ReadRequest, load: () => Promise<unknown>): Promise<unknown> {
    const hit = this.peek(req.l1Key);
    if (hit) return hit.value;
    const running = this.inflight.get(req.l1Key);
    if (running) {
      this.stats.coalesced++;
      return cloneResult(await running);
    }
    let resolveShared!: (v: unknown) => void;
    let rejectShared!: (e: unknown) => void;
    const shared = new Promise<unknown>((res, rej) => ((resolveShared = res), (rejectShared = rej)));
    shared.catch(() => undefined);
    this.inflight.set(req.l1Key, shared);
    try {
      const { value, stored } = await this.fetch(req, load);
      resolveShared(stored);
      return value;
    } catch (err) {
      rejectShared(err);
      throw err;
    } finally {
      this.inflight.delete(req.l1Key);
    }
  }

  /** L2 then database. Returns the caller's value and a private copy for others. */
  private async fetch(req: ReadRequest, load: () => Promise<unknown>): Promise<{ value: unknown; stored: unknown }> {
    const gens = this.generations.snapshot(req.deps);
    const l2 = this.l2;
    let versions: string[] | undefined;
    let id: string | undefined;
    if (l2 && l2.available) {
      id = req.l2Id();
      const found = await l2.read(id, req.deps, Date.now());
      if (found) {
        versions = found.versions;
        if (found.body !== undefined) {
          const value = this.decodeOrDrop(id, found.body);
          if (value !== DROPPED) {
            this.stats.l2Hits++;
            // L1 keeps `value`; the caller gets its own copy only when L1 shares it.
            const filled = this.fillL1(req, value, byteSize(found.body), gens, found.freshUntil);
            return { value: filled ? cloneResult(value) : value, stored: value };
          }
        }
      }
    }
    this.stats.misses++;
    const value = await load();
    const body = encode(value);
    const stored = cloneResult(value);
    let storedInL2 = false;
    if (l2 && id !== undefined && versions !== undefined) {
      const now = Date.now();
      const ok = await l2.fill(id, req.deps, versions, body, now + req.ttlMs, req.ttlMs);
      if (ok === false) {
        this.stats.fillsRefused++;
        return { value, stored };
      }
      storedInL2 = ok === true;
    }
    if (!this.generations.matches(req.deps, gens)) {
      this.stats.fillsRefused++;
    } else if (this.fillL1(req, stored, byteSize(body), gens, Date.now() + req.ttlMs) || storedInL2) {
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

  /** Stores in L1 if the dependencies have not moved since `gens`. Returns whether it did. */
  private fillL1(req: ReadRequest, value: unknown, size: number, gens: readonly number[], freshUntil: number): boolean {
    if (!this.l1 || !this.generations.matches(req.deps, gens)) return false;
    this.l1.set(req.l1Key, { value, deps: req.deps, gens, freshUntil, size }, Date.now());
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

  /** Drops every L1 entry. */
  clearL1(): void {
    this.l1?.clear();
  }
}

const DROPPED = Symbol("dropped");
