/**
 * The read policy: when a hit is refreshed early (XFetch), and what may be
 * served if the database fails (grace). Stale-while-revalidate is the
 * `staleUntil` of an entry's timing; the lease is in coherence/lease.ts and
 * is applied by the read path.
 * @module
 */
import type { Stats } from "../stats.js";
import type { LocalGenerations, MemoryTier, Timing } from "../tiers/memory.js";
import type { GraceCandidate, ReadRequest } from "./request.js";

/** Early refresh and grace. */
export class Policy {
  constructor(
    /** XFetch beta: 0 turns early refresh off. */
    private readonly beta: number,
    private readonly stats: Stats,
  ) {}

  /**
   * XFetch: refresh early with a probability that grows as expiry nears and
   * with the time the query took: `now - delta * beta * ln(rand) >= expiry`.
   */
  refreshEarly(t: Timing, now: number): boolean {
    if (this.surelyFresh(t, now)) return false;
    if (now - t.delta * this.beta * Math.log(Math.random()) < t.freshUntil) return false;
    this.stats.earlyRefreshes++;
    return true;
  }

  /**
   * Whether an entry is too far from expiry for {@link refreshEarly} to pick
   * it: -ln(rand) > 20 has probability 2e-9, so the random draw is skipped
   * until then. Draws nothing and counts nothing.
   */
  surelyFresh(t: Timing, now: number): boolean {
    const beta = this.beta;
    return beta <= 0 || now + t.delta * beta * 20 < t.freshUntil;
  }

  /** A grace candidate from L1: a current entry, until `freshUntil + grace`. */
  graceFromL1(l1: MemoryTier | undefined, generations: LocalGenerations, req: ReadRequest): GraceCandidate | undefined {
    if (req.graceMs <= 0) return undefined;
    const e = l1?.get(req.l1Key);
    if (!e || !generations.matches(e.deps, e.gens)) return undefined;
    return { value: e.value, until: e.timing.freshUntil + req.graceMs, timing: e.timing };
  }

  /** A grace candidate from a decoded L2 entry whose versions are current, until `freshUntil + grace`. */
  graceFromL2(req: ReadRequest, value: unknown, t: Timing): GraceCandidate | undefined {
    return req.graceMs > 0 ? { value, until: t.freshUntil + req.graceMs, timing: t } : undefined;
  }
}
