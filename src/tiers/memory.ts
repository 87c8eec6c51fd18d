/**
 * L1: the in-process tier, an lru-cache bounded by entries and by bytes.
 * @module
 */
import { LRUCache } from "lru-cache";
import type { L1Options } from "../options.js";

/** One L1 entry. `value` is private to the cache: callers get clones. */
export interface L1Entry {
  /** The decoded result, never handed out directly. */
  readonly value: unknown;
  /** Dependency ids the entry was computed from. */
  readonly deps: readonly string[];
  /** Local generations of `deps` when the entry was filled. */
  readonly gens: readonly number[];
  /** When the entry was filled and how long it may live (see {@link Timing}). */
  readonly timing: Timing;
  /** Epoch ms until which L1 serves it without asking L2 (`freshUntil` capped by `l1.ttl`). */
  readonly checkUntil: number;
  /** Approximate size in bytes. */
  readonly size: number;
  /**
   * The {@link LocalGenerations.clock} at which `gens` were last found
   * current: while no bump came since, the entry is current without checking
   * each dependency (an L1 hit stays constant-time however many it has).
   */
  seen: number;
}

/** An entry's lifetime, in epoch ms, and what its query cost. */
export interface Timing {
  /** Fresh until then. */
  readonly freshUntil: number;
  /** Served stale (and refreshed in the background) until then: `freshUntil + swr`. */
  readonly staleUntil: number;
  /** Kept until then, for stale-while-revalidate and grace: `freshUntil + max(swr, grace)`. */
  readonly keepUntil: number;
  /** Milliseconds the query took, with fractions (drives early refresh). */
  readonly delta: number;
}

/** The in-process tier. */
export class MemoryTier {
  private readonly lru: LRUCache<string, L1Entry>;
  private readonly ttlMs: number;

  constructor(options: Required<L1Options>) {
    this.ttlMs = options.ttl * 1000;
    this.lru = new LRUCache<string, L1Entry>({
      max: options.max,
      maxSize: options.maxBytes,
      sizeCalculation: (e) => Math.max(1, e.size),
    });
  }

  /** The entry under `key`, if any (freshness is the caller's business). */
  get(key: string): L1Entry | undefined {
    return this.lru.get(key);
  }

  /**
   * Stores an entry. L1 serves it without asking L2 until `now + l1.ttl` at
   * most (`checkUntil`), and keeps it until its `keepUntil`.
   */
  set(key: string, entry: Omit<L1Entry, "checkUntil" | "seen">, now: number, seen: number): void {
    if (entry.timing.keepUntil <= now) return;
    const checkUntil = Math.min(entry.timing.freshUntil, now + this.ttlMs);
    // Expiry is checked on every read from the entry's own timing; lru-cache's
    // own ttl tracking would only add cost to every get. Expired entries leave
    // as the LRU evicts them (the tier stays bounded by max and maxBytes).
    this.lru.set(key, { ...entry, checkUntil, seen });
  }

  /** Removes one entry. */
  delete(key: string): void {
    this.lru.delete(key);
  }

  /** Removes every entry. */
  clear(): void {
    this.lru.clear();
  }

  /** Number of entries held. */
  get size(): number {
    return this.lru.size;
  }

  /** Approximate bytes held (the sum of the entries' sizes). */
  get bytes(): number {
    return this.lru.calculatedSize;
  }
}

/**
 * Local generation counters, one per dependency id. A write bumps the
 * generations of what it changed; an L1 entry is fresh only while every
 * generation it recorded is unchanged. Cost of a bump: O(1), whatever the
 * number of entries.
 */
export class LocalGenerations {
  private readonly gens = new Map<string, number>();
  /** Generation of every dependency not in the map; above every generation ever handed out before the last reset. */
  private floor = 0;
  /** Moves on every bump (and every dependency bumped takes its value): an entry checked at the current clock is still current. */
  clock = 0;

  /** @param limit dependencies tracked before the map is reset (which makes every L1 entry stale). */
  constructor(private readonly limit = 200_000) {}

  /** Current generation of one dependency: the clock of its last bump (or of the last reset). */
  of(dep: string): number {
    return this.gens.get(dep) ?? this.floor;
  }

  /** Current generation of each dependency, in order. */
  snapshot(deps: readonly string[]): number[] {
    const out = new Array<number>(deps.length);
    for (let i = 0; i < deps.length; i++) out[i] = this.gens.get(deps[i]!) ?? this.floor;
    return out;
  }

  /** Whether every dependency is still at the recorded generation. */
  matches(deps: readonly string[], gens: readonly number[]): boolean {
    for (let i = 0; i < deps.length; i++) if ((this.gens.get(deps[i]!) ?? this.floor) !== gens[i]) return false;
    return true;
  }

  /**
   * Whether an L1 entry's dependencies are all at their recorded
   * generations: at once when nothing was bumped since it was last found
   * so, otherwise by checking each (and then remembered).
   */
  current(e: L1Entry): boolean {
    if (e.seen === this.clock) return true;
    if (!this.matches(e.deps, e.gens)) return false;
    e.seen = this.clock;
    return true;
  }

  /** Moves each dependency to a new generation: the clock, moved on by one. */
  bump(deps: Iterable<string>): void {
    this.clock++;
    if (this.gens.size >= this.limit) {
      // Bounded memory: forget every generation, and start above all of them,
      // so no entry recorded before can match again.
      this.gens.clear();
      this.floor = this.clock++;
    }
    for (const d of deps) this.gens.set(d, this.clock);
  }
}
