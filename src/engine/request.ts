/**
 * What the read path works on, all data (no classes): a read plan (what the
 * planner builds for every cached read, enough for an L1 hit), a read request
 * (the plan completed on an L1 miss: dependencies and L2 key), an attempt
 * (what was snapshotted before the query), and what a flight yields.
 * @module
 */
import type { KeyedSelect } from "../deps/select-keys.js";
import type { OpCounters } from "../stats.js";
import type { Timing } from "../tiers/memory.js";
import { SEQUENCE_DEP } from "../tiers/versions.js";

/** The database query of a read: called on a miss only, with the arguments it runs with when they differ from the read's ({@link ReadRequest.keyed}). */
export type Load = (args?: Record<string, unknown>) => Promise<unknown>;

/**
 * A cacheable read as the planner builds it: its L1 key and lifetimes, and
 * what its dependencies are worked out from on a miss (`Planner.complete`).
 */
export interface ReadPlan {
  /** L1 key: the canonical text of the query (no hashing on the L1 path). */
  readonly l1Key: string;
  readonly ttlMs: number;
  readonly swrMs: number;
  readonly graceMs: number;
  /** The model read, or undefined for a cached raw read. */
  readonly model: string | undefined;
  /** The read's arguments. */
  readonly args: Record<string, unknown> | undefined;
  /** Per-query tags. */
  readonly tags: readonly string[] | undefined;
  /** A findUnique on a model with a known primary key: depends on its row, not the model. */
  readonly rowLookup: boolean;
  /** The base read operation (`findUnique` for `findUniqueOrThrow`); undefined for a cached raw read. */
  readonly operation: string | undefined;
  /** The key is derived from the arguments (not a custom `key`), so what is worked out from it may be remembered. */
  readonly memoizable: boolean;
  /** For a cached raw read: the dependencies it declares. */
  readonly declared: readonly string[] | undefined;
  /** The counters of its model and operation (`stats().byModel`). */
  readonly counters: OpCounters;
}

/** One cacheable read, complete: what the read path runs after an L1 miss. */
export interface ReadRequest {
  /** L1 key: the canonical text of the query. */
  readonly l1Key: string;
  /** L2 key id: a hash of the canonical text; undefined while L2 keys cannot be formed (the fingerprint is not known). */
  readonly l2Id: string | undefined;
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
  /** The query runs with primary keys its `select`s leave out, taken out of the result again (deps/select-keys.ts). */
  readonly keyed?: KeyedSelect | undefined;
  /** Milliseconds the value stays fresh. */
  readonly ttlMs: number;
  /** Milliseconds past freshness during which it is served stale while being refreshed. */
  readonly swrMs: number;
  /** Milliseconds past freshness during which it is served if the database fails. */
  readonly graceMs: number;
  /** The counters of its model and operation (`stats().byModel`). */
  readonly counters: OpCounters;
}

/** A value the cache may fall back to if the database fails: its copy, until when, and the lifetime it was stored with. */
export interface GraceCandidate {
  value: unknown;
  until: number;
  timing: Timing;
}

/** One attempt to produce a value for a read: what was snapshotted before the query. */
export interface Attempt {
  readonly req: ReadRequest;
  readonly load: Load;
  /** Dependencies snapshotted before the query. */
  readonly snap: readonly string[];
  /** Their local generations then. */
  readonly gens: readonly number[];
  /** The local generations' clock then: a dependency found in the result whose generation is above it was bumped since. */
  readonly clock: number;
  /** L2 key id, when Redis is in use. */
  readonly id?: string;
  /** Their Redis versions then, when Redis answered. */
  readonly versions?: string[];
  /** The Redis connection's number when the attempt began (`RedisTier.gen`): a fill after a reconnect is not stored. */
  readonly gen?: number;
  /** What to serve if the query fails. */
  readonly grace?: GraceCandidate;
  /** The dogpile lease this attempt holds: its fill releases it (in the same script). */
  readonly lease?: HeldLease;
}

/** A dogpile lease an attempt holds: its token, and whether the fill released it. */
export interface HeldLease {
  readonly token: string;
  released: boolean;
}

/** How a read was answered, as `withCacheInfo()` reports it. */
export type CacheStatus =
  /** From the in-process tier. */
  | "l1"
  /** From Redis. */
  | "l2"
  /** From the database (the value was then stored). */
  | "miss"
  /** Past its ttl, within `swr`, from either tier (a background refresh was started). */
  | "stale"
  /** Joined another caller's in-flight query for the same key in this process. */
  | "coalesced"
  /** The database query failed and a cached value was served within `grace`. */
  | "grace"
  /** Not cached: `cache: false`, no ttl, an interactive transaction, or a client the cache cannot see into. */
  | "bypass";

/** A fetched value for the caller, a private copy for joiners and L1, and how it was found. */
export interface Fetched {
  value: unknown;
  stored: unknown;
  status: "l2" | "stale" | "miss" | "grace";
  /** The lifetime the value was (or would have been) stored with. */
  timing: Timing;
}

/**
 * What a read records of itself when its caller asked `withCacheInfo()`:
 * filled in place by the read path (a read that asks nothing passes none).
 */
export interface ReadOutcome {
  status: CacheStatus;
  /** The lifetime of the value served; undefined for a bypass. */
  timing: Timing | undefined;
  /** The read's plan, once it was cached (not bypassed). */
  plan: ReadPlan | undefined;
}

/**
 * Dependencies snapshotted before the query: recorded ones, guards, and, for
 * an entry with dependencies found in its result, the bump sequence (which
 * tells which of those moved since; see tiers/versions.ts).
 */
export const snapshotDeps = (req: ReadRequest): readonly string[] =>
  req.lateDeps ? [...req.deps, ...(req.guards ?? []), SEQUENCE_DEP] : req.guards ? [...req.deps, ...req.guards] : req.deps;

/** Dependencies recorded with the entry for `value`. */
export const recordedDeps = (req: ReadRequest, value: unknown): readonly string[] => (req.lateDeps ? [...req.deps, ...req.lateDeps(value)] : req.deps);

/** The lifetime of an entry computed now, whose query took `delta` ms. */
export function timingOf(req: ReadRequest, now: number, delta: number): Timing {
  const freshUntil = now + req.ttlMs;
  return { freshUntil, staleUntil: freshUntil + req.swrMs, keepUntil: freshUntil + Math.max(req.swrMs, req.graceMs), delta };
}

/** Records how a read was answered. */
export function observe(outcome: ReadOutcome, status: CacheStatus, timing: Timing | undefined): void {
  outcome.status = status;
  outcome.timing = timing;
}
