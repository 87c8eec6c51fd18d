/**
 * Shapes of `bench/results.json`. Each benchmark group writes one entry under
 * `groups`, keyed by the group's name; `kind` tells bench/report.ts how to
 * render it.
 * @module
 */
import type { LatencySummary } from "./measure";

/** One measured case of a latency group. */
export interface LatencyCase extends LatencySummary {
  /** Human-readable name, e.g. "cached findUnique, L1 hit". */
  label: string;
  /**
   * For cases that must be served by one cache tier: how many timed calls the
   * cache's own counters attribute to that tier (should equal `iterations`).
   */
  servedBy?: { tier: "l1" | "l2"; calls: number; ok: boolean };
}

/** A comparison between two cases' medians, with its target if it has one. */
export interface Ratio {
  label: string;
  value: number;
  /** The target, e.g. "≥ 8×"; absent for an informative ratio. */
  target?: string;
  met?: boolean;
}

/** A target on one absolute figure. */
export interface Target {
  label: string;
  value: number;
  target: string;
  met: boolean;
}

/** A group of latency cases measured together (interleaved). */
export interface LatencyGroup {
  kind: "latency";
  title: string;
  /** What was measured and how, one sentence each. */
  notes: string[];
  /** Cases by id, in display order. */
  cases: Record<string, LatencyCase>;
  ratios: Record<string, Ratio>;
  targets: Record<string, Target>;
  /** Wall-clock seconds the group took. */
  seconds: number;
}

/** Any group's result (later: hit-ratio, stampede, write-latency groups). */
export type GroupResult = LatencyGroup;

/** The whole of `bench/results.json`. */
export interface BenchResults {
  /** ISO date of the run. */
  date: string;
  machine: { cpu: string; cores: number; node: string; os: string };
  servers: { postgres: string; redis: string };
  /** What was measured: the tsup build of src/ or src/ through tsx. */
  library: string;
  /** Git revision measured (`abc1234`, `+dirty` if src/ had uncommitted changes). */
  revision: string;
  groups: Record<string, GroupResult>;
}
