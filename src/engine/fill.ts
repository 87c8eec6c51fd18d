/**
 * Compare-and-set fills: a value is stored in L2 only if no Redis version
 * moved since the snapshot taken before its query, and in L1 only if no
 * local generation did. Refusals are counted.
 * @module
 */
import { cloneResult } from "../clone.js";
import { byteSize, encode } from "../codec.js";
import type { Stats } from "../stats.js";
import type { LocalGenerations, MemoryTier, Timing } from "../tiers/memory.js";
import type { RedisTier } from "../tiers/redis.js";
import { type Attempt, type Fetched, recordedDeps } from "./request.js";

/** Stores values in both tiers under the versions they were computed from. */
export class Fill {
  constructor(
    private readonly l1: MemoryTier | undefined,
    private readonly l2: RedisTier | undefined,
    private readonly generations: LocalGenerations,
    private readonly stats: Stats,
  ) {}

  /**
   * L2 (refused if a Redis version moved since the snapshot), then L1
   * (refused if a local generation did). Returns the caller's value and a
   * private copy.
   */
  async store(a: Attempt, raw: unknown, timing: Timing): Promise<Fetched> {
    const { req } = a;
    // Found in the result as the query returned it (with any keys it added), then given the read's own shape.
    const late = req.lateDeps?.(raw);
    const value = req.keyed ? req.keyed.strip(raw) : raw;
    const recorded = late ? [...req.deps, ...late] : req.deps;
    const body = encode(value);
    const stored = cloneResult(value);
    let storedInL2 = false;
    if (this.l2 && a.id !== undefined && a.versions !== undefined) {
      const records = late ? { deps: recorded, equal: req.deps.length } : undefined;
      const fill = { gen: a.gen ?? -1, snapshot: a.snap, versions: a.versions, body, timing, recorded: records, lease: a.lease?.token };
      const { stored: ok, released } = await this.l2.fill(a.id, fill);
      if (released && a.lease) a.lease.released = true;
      if (ok === false) {
        this.stats.fillsRefused++;
        req.counters.fillsRefused++;
        return { value, stored, status: "miss", timing };
      }
      storedInL2 = ok === true;
    }
    if (!this.unchanged(a, late)) {
      this.stats.fillsRefused++;
      req.counters.fillsRefused++;
    } else if (this.l1Entry(a, stored, byteSize(body), timing, recorded) || storedInL2) {
      this.stats.fills++;
      req.counters.fills++;
    }
    return { value, stored, status: "miss", timing };
  }

  /**
   * Whether nothing the value depends on moved locally since the attempt's
   * snapshot: the dependencies known before the query kept their
   * generations, and none found in the result (`late`) was bumped after it
   * (a generation is the clock of its last bump). Guards are not needed here.
   */
  private unchanged(a: Attempt, late: readonly string[] | undefined): boolean {
    const { req, snap, gens } = a;
    if (!late) return this.generations.matches(snap, gens);
    const n = req.deps.length;
    for (let i = 0; i < n; i++) if (this.generations.of(snap[i]!) !== gens[i]) return false;
    for (const d of late) if (this.generations.of(d) > a.clock) return false;
    return true;
  }

  /**
   * Stores in L1 if nothing the value depends on moved since the attempt's
   * snapshot. The entry records `recorded` (every dependency: those known
   * before the query, then those found in its result; worked out from the
   * value when not given) at their current generations. Returns whether it
   * stored.
   */
  l1Entry(a: Attempt, value: unknown, size: number, timing: Timing, recorded?: readonly string[]): boolean {
    if (!this.l1) return false;
    const { req } = a;
    const deps = recorded ?? recordedDeps(req, value);
    if (!this.unchanged(a, req.lateDeps ? deps : undefined)) return false;
    this.l1.set(req.l1Key, { value, deps, gens: this.generations.snapshot(deps), timing, size }, Date.now(), this.generations.clock);
    return true;
  }
}
