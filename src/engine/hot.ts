/**
 * The reads most read across a namespace (`warm: { top }`): counted by
 * sampling, and loaded into a new process's L1 from L2 at start.
 *
 * - Counting: about one cached read in `sampleEvery` of a bare client (no
 *   scope, no query extension: its key is the read alone) is taken, off the
 *   read's own path: the sample is queued, encoded after the read's turn
 *   (codec.ts, so that Dates, BigInts and Decimals in arguments survive),
 *   and sent in one pipeline per batch that adds `sampleEvery` to its count
 *   (tiers/hot.ts). A read whose encoded form is over
 *   {@link MAX_MEMBER_LENGTH} characters is not counted.
 * - Loading: the `top` highest are decoded, planned as the same read of a
 *   bare client, and each loaded from L2 if it is there and fresh
 *   ({@link ReadPath.loadFromL2}): never from the database. Then the L1 hit
 *   path is run over them a few thousand times, uncounted, so that V8 has
 *   compiled it before the first reads ({@link rehearse}).
 * @module
 */
import { decode, encode } from "../codec.js";
import type { RelationGraph } from "../deps/graph.js";
import { OpCounters, type Stats } from "../stats.js";
import type { HotSet } from "../tiers/hot.js";
import { Bypass } from "./bypass.js";
import { BASE_OPERATION, type Planner, type ReadOperation } from "./planner.js";
import type { ReadPath } from "./read-path.js";
import type { ReadPlan } from "./request.js";

/** Longest encoded read counted, in characters: larger ones are not recorded, so that the set's memory stays bounded. */
export const MAX_MEMBER_LENGTH = 1024;

/** Samples waiting to be sent at most; more are dropped until a batch has gone (Redis slow). */
const MAX_PENDING = 256;

/** Entries loaded from L2 at once at start. */
const LOAD_CONCURRENCY = 32;

/** L1 hits rehearsed over the entries loaded, in all, and the most time it may take (see {@link rehearse}). */
const REHEARSALS = 10_000;
const REHEARSAL_MS = 50;

/** What a sample holds: the read's model, base operation, arguments and per-query option. */
interface Sample {
  readonly model: string;
  readonly operation: string;
  readonly args: Record<string, unknown> | undefined;
  readonly cache: unknown;
}

/** Settings of {@link HotReads}. */
export interface HotReadsOptions {
  /** The namespace's sorted set in Redis. */
  set: HotSet;
  /** One cached read in this many is counted, adding this much (on average). */
  sampleEvery: number;
}

/** The read counts of one cache runtime, and its warm start. */
export class HotReads {
  private countdown: number;
  private pending: Sample[] = [];
  /** A flush is scheduled or a batch is in flight: samples wait for it. */
  private flushing = false;
  private closed = false;

  constructor(private readonly options: HotReadsOptions) {
    this.countdown = this.gap();
  }

  /** Reads until the next sample: uniform over 1 .. 2k-1 (mean k), so that no regular pattern of reads is always or never taken. */
  private gap(): number {
    const k = this.options.sampleEvery;
    return k <= 1 ? 1 : 1 + Math.floor(Math.random() * (2 * k - 1));
  }

  /**
   * Counts a cached read of a bare client, one time in `sampleEvery`: a
   * decrement on most reads; the sample is sent after the read's turn.
   * `cache` is its per-query option as given (already checked by the planner).
   */
  sample(plan: ReadPlan, cache: unknown): void {
    if (--this.countdown > 0) return;
    this.countdown = this.gap();
    const { model, operation } = plan;
    if (model === undefined || operation === undefined || this.closed || this.pending.length >= MAX_PENDING) return;
    this.pending.push({ model, operation, args: plan.args, cache });
    if (!this.flushing) {
      this.flushing = true;
      setImmediate(this.flush);
    }
  }

  /**
   * Encodes the samples waiting and sends them in one batch; those taken
   * while it is in flight go in the next. Dropped while Redis is not connected.
   */
  private readonly flush = (): void => {
    const { set, sampleEvery } = this.options;
    if (this.closed || !set.connected) {
      this.pending = [];
      this.flushing = false;
      return;
    }
    const members = new Map<string, number>();
    for (const s of this.pending.splice(0)) {
      const member = memberOf(s);
      if (member !== undefined) members.set(member, (members.get(member) ?? 0) + sampleEvery);
    }
    void set.add(members).then(() => {
      if (this.pending.length > 0 && !this.closed) setImmediate(this.flush);
      else this.flushing = false;
    });
  };

  /**
   * Loads the `top` reads most read across the namespace into L1, from L2
   * only, each if its entry is there and fresh, counting each in
   * `stats.warmed`. Resolves to how many it loaded; never rejects.
   */
  async load(top: number, into: { planner: Planner; readPath: ReadPath; graph: RelationGraph; stats: Stats }): Promise<number> {
    const members = await this.options.set.top(top);
    let next = 0;
    const loaded: string[] = [];
    const worker = async (): Promise<void> => {
      while (next < members.length && !this.closed) {
        const plan = planOf(members[next++]!, into.planner, into.graph);
        // A failure leaves the entry to the first read of it.
        if (plan === undefined || !(await into.readPath.loadFromL2(plan).catch(() => false))) continue;
        loaded.push(plan.l1Key);
        into.stats.warmed++;
      }
    };
    await Promise.all(Array.from({ length: Math.min(LOAD_CONCURRENCY, members.length) }, worker));
    if (!this.closed) rehearse(into.readPath, into.stats, loaded);
    return loaded.length;
  }

  /** Stops counting and loading. */
  close(): void {
    this.closed = true;
    this.pending = [];
  }
}

/**
 * Runs the L1 hit path ({@link ReadPath.peek}: the lookup, the generation
 * check, the copy each caller gets) over the entries just loaded, about
 * {@link REHEARSALS} times in all (at most {@link REHEARSAL_MS} ms), and
 * counts none of it. V8 compiles that path once it has run some thousands
 * of times; until then a hit costs several times as much, and a warm start
 * is meant to leave the process answering its first reads as a warm one
 * does. Synchronous, so that no read of the app's is counted away.
 */
function rehearse(reads: ReadPath, stats: Stats, keys: readonly string[]): void {
  if (keys.length === 0) return;
  const { l1Hits, staleServed, earlyRefreshes } = stats;
  const until = performance.now() + REHEARSAL_MS;
  const rounds = Math.ceil(REHEARSALS / keys.length);
  for (let r = 0; r < rounds && performance.now() < until; r++) {
    for (let i = 0; i < keys.length; i++) {
      reads.peek(keys[i]!);
      if ((i & 63) === 63 && performance.now() >= until) break;
    }
  }
  stats.l1Hits = l1Hits;
  stats.staleServed = staleServed;
  stats.earlyRefreshes = earlyRefreshes;
}

/** A read's member in the set: `[model, operation, args?, cache?]` encoded; undefined when it cannot be encoded or is too long. */
function memberOf(s: Sample): string | undefined {
  const parts: unknown[] = [s.model, s.operation];
  if (s.args !== undefined || s.cache !== undefined) parts.push(s.args ?? null);
  if (s.cache !== undefined) parts.push(s.cache);
  try {
    const member = encode(parts);
    return member.length <= MAX_MEMBER_LENGTH ? member : undefined;
  } catch {
    // Arguments with values the codec does not carry (Prisma.skip, null types): not counted.
    return undefined;
  }
}

/**
 * The plan of a member as this process would make it for a bare client, or
 * undefined when it is malformed, names what this schema lacks, or is not
 * cached here (no ttl, `cache: false`). Counts nothing.
 */
function planOf(member: string, planner: Planner, graph: RelationGraph): ReadPlan | undefined {
  let parts: unknown;
  try {
    parts = decode(member);
  } catch {
    return undefined;
  }
  if (!Array.isArray(parts) || parts.length < 2 || parts.length > 4) return undefined;
  const [model, operation, args, cache] = parts as [unknown, unknown, unknown, unknown];
  if (typeof model !== "string" || !graph.models.includes(model)) return undefined;
  if (typeof operation !== "string" || !Object.hasOwn(BASE_OPERATION, operation)) return undefined;
  if (args !== undefined && args !== null && (typeof args !== "object" || Array.isArray(args))) return undefined;
  const op = operation as ReadOperation;
  try {
    // Counters of its own: loading adds no model to stats().byModel. The key
    // memo is the bare client's: its first read of the entry finds its key there.
    const memo = planner.memo("", model, op);
    const read = { model, operation: op, args: (args ?? undefined) as Record<string, unknown> | undefined, cache };
    const plan = planner.decide(read, { counters: new OpCounters(model, op), memo });
    return plan instanceof Bypass ? undefined : plan;
  } catch {
    // A per-query option this version refuses.
    return undefined;
  }
}
