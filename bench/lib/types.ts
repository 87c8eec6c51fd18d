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
  /** The unit of `value` when it is not a time in µs (e.g. "%"). */
  unit?: string;
  target: string;
  met: boolean;
}

/**
 * Something the group verified about its setup or its results (e.g. "L2
 * holds 100,000 entry keys"), with what it observed. `ok` is absent for a
 * figure shown for information only.
 */
export interface Check {
  label: string;
  /** What was observed, as displayed. */
  value: string;
  ok?: boolean;
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
  /** Setup and result verifications, in display order (optional; older results have none). */
  checks?: Record<string, Check>;
  /** Wall-clock seconds the group took. */
  seconds: number;
}

/** One run of a workload against one cache configuration. */
export interface HitRatioRun {
  /** Human-readable name, e.g. "row-level dependencies (default)". */
  label: string;
  /** Cacheable reads issued. */
  reads: number;
  /** Writes issued. */
  writes: number;
  /** From `$cache.stats()`. */
  hits: { l1: number; l2: number };
  misses: number;
  fills: number;
  fillsRefused: number;
  /** Reads that joined another caller's query (absent where reads run one at a time). */
  coalesced?: number;
  /** `(hits.l1 + hits.l2) / reads`, from the cache's counters. */
  hitRatio: number;
  /** Counted at the driver adapter, per read (absent where reads run concurrently and cannot be told apart). */
  db?: {
    /** Reads during which at least one SELECT reached the database. */
    reads: number;
    /** SELECTs sent during reads. */
    selects: number;
    /** `(reads - db.reads) / reads`. */
    hitRatio: number;
  };
  /** Hit ratio that the documented dependency rules predict for this operation sequence (absent where no prediction is made). */
  predictedHitRatio?: number;
  /** Wall-clock seconds of the run. */
  seconds: number;
}

/** A figure of a group, already formatted, with its target if it has one. */
export interface Figure {
  label: string;
  value: string;
  target?: string;
  met?: boolean;
}

/** Throughput and latency of one timed run of a workload (cached or not). */
export interface ThroughputRun {
  /** Human-readable name, e.g. "uncached (plain PrismaClient)". */
  label: string;
  /** Timed operations (warm-up excluded). */
  operations: number;
  /** Operations in flight at once. */
  concurrency: number;
  /** `operations` / wall-clock seconds of the timed part. */
  opsPerSecond: number;
  /** Per-operation latency, µs (reads and writes together). */
  medianUs: number;
  p99Us: number;
  /** Median latency of the reads alone, and of the writes alone, µs. */
  readMedianUs: number;
  writeMedianUs: number;
}

/** The same operation sequence run against several cache configurations; hit ratios compared. */
export interface HitRatioGroup {
  kind: "hit-ratio";
  title: string;
  /** What was measured and how, one sentence each. */
  notes: string[];
  /** Runs by id, in display order. */
  runs: Record<string, HitRatioRun>;
  /** Throughput of timed runs (the cached ones and their uncached baseline), by id, in display order (optional: the groups that time their runs). */
  throughput?: Record<string, ThroughputRun>;
  figures: Record<string, Figure>;
  checks: Record<string, Check>;
  /** Wall-clock seconds the group took. */
  seconds: number;
}

/** One cold-key burst of the stampede group (all processes together). */
export interface StampedeBurst {
  /** SELECTs of the query counted at the driver adapter, summed over the processes. */
  dbQueries: number;
  /** Every statement the adapters saw during the burst (should equal `dbQueries`). */
  statements: number;
  /** The same, per process. */
  perProcess: number[];
  /** Calls timed (all processes). */
  calls: number;
  /** Calls that rejected. */
  failed: number;
  /** Latency percentiles over all calls of the burst, ms. */
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Spread of the processes' first-call start times, ms. */
  startSkewMs: number;
  /** The variant's own counters for the burst, summed over the processes (where it has them). */
  counters?: Record<string, number>;
}

/** One variant of the stampede group: medians over its bursts. */
export interface StampedeVariantResult {
  label: string;
  /** Why the variant did not run (or failed); absent when it ran. */
  notRun?: string;
  /** Medians over the bursts (NaN, written as null, when not run). */
  dbQueries: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  bursts: StampedeBurst[];
  /** The untimed warm-up burst that preceded them (first use of pools and subscriptions), for information. */
  warmup?: StampedeBurst;
}

/** A cold key read by many concurrent callers in several processes, per variant. */
export interface StampedeGroup {
  kind: "stampede";
  title: string;
  /** What was measured and how, one sentence each. */
  notes: string[];
  /** Variants by id, in display order. */
  variants: Record<string, StampedeVariantResult>;
  checks: Record<string, Check>;
  /** Wall-clock seconds the group took. */
  seconds: number;
}

/** Any group's result. */
export type GroupResult = LatencyGroup | HitRatioGroup | StampedeGroup;

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
