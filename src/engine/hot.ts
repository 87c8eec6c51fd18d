/**
 * The reads most read across a namespace (`warm: { top }`): counted by
 * sampling, and loaded into a new process's L1 from L2 at start.
 *
 * - Counting: about one cached read in `sampleEvery` of a bare client (no
 *   scope, no query extension: its key is the read alone) is taken, off the
 *   read's own path: the sample is queued (a read already waiting counts
 *   one more), encoded after the read's turn (codec.ts, so that Dates,
 *   BigInts and Decimals in arguments survive), and sent in one pipeline
 *   per batch that adds `sampleEvery` per sample to its count
 *   (tiers/hot.ts). A read whose encoded form is over
 *   {@link MAX_MEMBER_LENGTH} characters is not counted.
 * - Loading: the `top` highest are decoded, planned as the same read of a
 *   bare client, and each loaded from L2 if it is there and fresh
 *   ({@link ReadPath.loadFromL2}): never from the database. Then they are
 *   read again through the client about 2,000 times, counted nowhere,
 *   so that V8 has compiled the whole hit path, the client's and the
 *   cache's, before the first reads ({@link rehearse}).
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

/**
 * Distinct reads whose samples wait to be sent, at most: a sample of a read
 * already waiting adds to its count; one of another read past this is
 * dropped until a batch has gone (Redis slow, or a loop of L1 hits that
 * never lets the event loop turn).
 */
const MAX_PENDING = 256;

/** Entries loaded from L2 at once at start. */
const LOAD_CONCURRENCY = 32;

/** Reads rehearsed over the entries loaded, in all, the most time they may take, and how many distinct entries they cycle over (see {@link rehearse}). */
const REHEARSALS = 2_000;
const REHEARSAL_MS = 500;
const REHEARSAL_READS = 256;

/**
 * A read as the client is called with it: its model, base operation,
 * arguments and per-query option. What a sample counts, and what a warm
 * start loaded into L1 and reads again.
 */
export interface WarmedRead {
  readonly model: string;
  readonly operation: string;
  readonly args: Record<string, unknown> | undefined;
  /** Its per-query option as read, if any. */
  readonly cache: unknown;
}

/** Reads a loaded entry again through the client (src/prisma/warm.ts), as the app would. */
export type RereadThroughClient = (read: WarmedRead) => PromiseLike<unknown>;

/**
 * The reads a warm start rehearses: a read started through {@link start} is
 * {@link active} while it starts (a cached read decides how it is answered
 * when it starts, synchronously), and the client serves it from L1 only,
 * counting it nowhere (no stats, no read count, no audit) and never reading
 * Redis or the database. A flag, not an AsyncLocalStorage: a storage's
 * `run` would turn on Node's promise hooks for the rest of the process,
 * and make every later read's promises slower.
 */
export class Rehearsal {
  private starting = 0;

  /** Whether the read starting now is a rehearsal's. */
  active(): boolean {
    return this.starting > 0;
  }

  /** Calls `read` (it returns a lazy cached read) and starts it, as a rehearsal's; resolves as the read does. */
  start<T>(read: () => PromiseLike<T>): Promise<T> {
    this.starting++;
    try {
      const lazy = read();
      // then() starts the read now, inside this call (awaiting it would start it a turn later).
      return new Promise<T>((resolve, reject) => {
        lazy.then(resolve, reject);
      });
    } finally {
      this.starting--;
    }
  }
}

/** A read's samples waiting to be sent: the first one, and how many were taken. */
interface Waiting {
  readonly sample: WarmedRead;
  count: number;
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
  /** Samples waiting, by the read's L1 key (a bare client's: the read alone). */
  private pending = new Map<string, Waiting>();
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
    if (model === undefined || operation === undefined || this.closed) return;
    const waiting = this.pending.get(plan.l1Key);
    if (waiting !== undefined) waiting.count++;
    else if (this.pending.size < MAX_PENDING) this.pending.set(plan.l1Key, { sample: { model, operation, args: plan.args, cache }, count: 1 });
    else return;
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
      this.pending.clear();
      this.flushing = false;
      return;
    }
    const members = new Map<string, number>();
    for (const { sample, count } of this.pending.values()) {
      const member = memberOf(sample);
      if (member !== undefined) members.set(member, (members.get(member) ?? 0) + sampleEvery * count);
    }
    this.pending.clear();
    void set.add(members).then(() => {
      if (this.pending.size > 0 && !this.closed) setImmediate(this.flush);
      else this.flushing = false;
    });
  };

  /**
   * Loads the `top` reads most read across the namespace into L1, from L2
   * only, each if its entry is there and fresh, counting each in
   * `stats.warmed`. Resolves to the reads it loaded; never rejects.
   */
  async load(top: number, into: { planner: Planner; readPath: ReadPath; graph: RelationGraph; stats: Stats }): Promise<WarmedRead[]> {
    const members = await this.options.set.top(top);
    let next = 0;
    const loaded: WarmedRead[] = [];
    const worker = async (): Promise<void> => {
      while (next < members.length && !this.closed) {
        const planned = planOf(members[next++]!, into.planner, into.graph);
        // A failure leaves the entry to the first read of it.
        if (planned === undefined || !(await into.readPath.loadFromL2(planned.plan).catch(() => false))) continue;
        loaded.push(planned.read);
        into.stats.warmed++;
      }
    };
    await Promise.all(Array.from({ length: Math.min(LOAD_CONCURRENCY, members.length) }, worker));
    return loaded;
  }

  /** Stops counting and loading. */
  close(): void {
    this.closed = true;
    this.pending.clear();
  }
}

/**
 * Reads the entries just loaded again through the client, about
 * {@link REHEARSALS} times in all (at most {@link REHEARSAL_MS} ms), one
 * after another, each started through `rehearsal` (so counted nowhere).
 * V8 compiles a path once it has run some thousands of times; until then
 * an L1 hit costs several times as much, through Prisma's client as
 * through the cache, and a warm start is meant to leave the process
 * answering its first reads as a warm one does.
 */
export async function rehearse(reads: readonly WarmedRead[], reread: RereadThroughClient, rehearsal: Rehearsal): Promise<void> {
  const n = Math.min(reads.length, REHEARSAL_READS);
  if (n === 0) return;
  const until = performance.now() + REHEARSAL_MS;
  for (let i = 0; i < REHEARSALS && performance.now() < until; i++) {
    const read = reads[i % n]!;
    try {
      await rehearsal.start(() => reread(read));
    } catch {
      // A read the client refuses now (a model gone from the schema): the next one.
    }
  }
}

/** A read's member in the set: `[model, operation, args?, cache?]` encoded; undefined when it cannot be encoded or is too long. */
function memberOf(s: WarmedRead): string | undefined {
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
function planOf(member: string, planner: Planner, graph: RelationGraph): { plan: ReadPlan; read: WarmedRead } | undefined {
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
    return plan instanceof Bypass ? undefined : { plan, read };
  } catch {
    // A per-query option this version refuses.
    return undefined;
  }
}
