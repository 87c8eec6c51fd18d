/**
 * Compare-and-set fills: a value is stored in L2 only if no Redis version
 * moved since the snapshot taken before its query, and in L1 only if no
 * local generation did. Refusals are counted.
 * @module
 */
import { cloneResult } from "../clone.js";
import { byteSize, encode } from "../codec.js";
import type { Stats } from "../telemetry.js";
import type { LocalGenerations, MemoryTier, Timing } from "../tiers/memory.js";
import type { RedisTier } from "../tiers/redis.js";
import { type Attempt, type Fetched, type ReadRequest, recordedDeps } from "./request.js";

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
  async store(a: Attempt, value: unknown, timing: Timing): Promise<Fetched> {
    const { req } = a;
    const body = encode(value);
    const stored = cloneResult(value);
    let storedInL2 = false;
    if (this.l2 && a.id !== undefined && a.versions !== undefined) {
      const ok = await this.l2.fill(a.id, a.gen ?? -1, a.snap, a.versions, body, timing, req.lateDeps ? recordedDeps(req, value) : undefined);
      if (ok === false) {
        this.stats.fillsRefused++;
        req.counters.fillsRefused++;
        return { value, stored, status: "miss", timing };
      }
      storedInL2 = ok === true;
    }
    if (!this.generations.matches(a.snap, a.gens)) {
      this.stats.fillsRefused++;
      req.counters.fillsRefused++;
    } else if (this.l1Entry(req, stored, byteSize(body), a.snap, a.gens, timing) || storedInL2) {
      this.stats.fills++;
      req.counters.fills++;
    }
    return { value, stored, status: "miss", timing };
  }

  /**
   * Stores in L1 if nothing in `snap` moved since `gens` was taken. The entry
   * records its dependencies at their current generations (equal to the
   * snapshot for those known before the query). Returns whether it stored.
   */
  l1Entry(req: ReadRequest, value: unknown, size: number, snap: readonly string[], gens: readonly number[], timing: Timing): boolean {
    if (!this.l1 || !this.generations.matches(snap, gens)) return false;
    const deps = recordedDeps(req, value);
    this.l1.set(req.l1Key, { value, deps, gens: this.generations.snapshot(deps), timing, size }, Date.now(), this.generations.clock);
    return true;
  }
}
