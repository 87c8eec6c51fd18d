/**
 * Bumps of version counters in Redis: sent at once, queued (bounded) while
 * Redis cannot take them and replayed when it can, published on the bus
 * once they are in Redis, and, with `replicas`, confirmed on that many
 * replicas before the write resolves.
 * @module
 */
import { ALL_DEP } from "../deps/ids.js";
import type { OutgoingMessage } from "../coherence/message.js";
import type { Breaker } from "./breaker.js";
import { type Layout, randomBase, VERSION_TTL_MS, versionKey } from "./entry.js";
import { BUMP, BumpOp, planBump, SEQUENCE_DEP } from "./versions.js";
import { bumpEachKey, waitForReplicas } from "./cluster-bumps.js";
import type { RedisConnection } from "../redis/client.js";

/** Most bumps kept for replay while Redis is unreachable; past it, the replay bumps the whole namespace. */
const MAX_PENDING_BUMPS = 10_000;

/** Settings of a {@link BumpQueue}. */
export interface BumpQueueOptions {
  timeoutMs: number;
  /** Dependency ids that make the whole namespace stale (replayed when the queue overflows). */
  everything?: readonly string[];
  /**
   * Where bumps that reached Redis are published, with the dependency ids
   * bumped: other processes' L1 hear of them within the bus delay (L2
   * readers see the bump at once). On one Redis the bump script itself
   * publishes the message, so a write sends one command.
   */
  bus?: BumpPublisher;
  /** Replicas each bump must reach before it resolves (`WAIT`); 0: none. */
  replicas?: number;
  /** Fewer replicas than `replicas` acknowledged a bump within the timeout. */
  onReplicasShort?: (wanted: number, acknowledged: number) => void;
  /** A delivery failed: `pending` bumps wait for Redis (replayed once a command succeeds). */
  onUndelivered?: (pending: number) => void;
}

/** The invalidation bus, as the bump queue publishes on it (see coherence/bus.ts). */
export interface BumpPublisher {
  /** Numbers a message for `deps`, for the bump script to publish; undefined when there is nothing to send. */
  prepare(deps: readonly string[]): OutgoingMessage | undefined;
  /** The message numbered `seq` reached Redis. */
  published(seq: number): void;
  /** The message numbered `seq` may not have reached Redis (`error`, when given, is reported). */
  lost(seq: number, error?: unknown): void;
  /** Publishes on its own (a Cluster's bumps are several commands, sent at once). Never rejects. */
  publish(deps: readonly string[]): Promise<unknown>;
}

/** What to read in the same step as a bump: the versions of `deps` in the group of entry `id`. */
export interface BumpRead {
  id: string;
  deps: readonly string[];
}

/** Delivers bumps to Redis: to every group of the layout (one on one Redis). */
export class BumpQueue {
  /** Bumps not yet delivered to each group, replayed when it answers again. */
  private readonly pending: Set<string>[];
  private retryTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly redis: RedisConnection,
    private readonly breaker: Breaker,
    private readonly layout: Layout,
    private readonly o: BumpQueueOptions,
  ) {
    this.pending = Array.from({ length: layout.groups }, () => new Set<string>());
    // Redis answers again: deliver what waits at once (until then, other processes may read the old rows from L2).
    breaker.onSuccess = () => {
      if (this.waiting() && this.flushing === 0) this.connected();
    };
  }

  /** Whether any bump waits to be delivered. */
  private waiting(): boolean {
    return this.pending.some((p) => p.size > 0);
  }

  /**
   * Bumps the version counters of `deps`, with any bumps still waiting from
   * an outage, and reads those of `read` in the same step. Tried even while
   * the circuit is open (within the timeout); undelivered bumps are queued
   * (bounded) and replayed as soon as a command succeeds again.
   * Resolves to the versions after the bump, or undefined if Redis does not
   * have them yet.
   */
  bump(deps: readonly string[], read?: BumpRead): Promise<Map<string, string> | undefined> {
    this.queue(deps);
    // Not skipped while the circuit is open: a bump is what keeps other processes from serving the old row,
    // so every write tries (within redisTimeout), and carries the bumps still queued with it.
    return this.flush(read);
  }

  /** Adds `deps` to every group's pending bumps (bounded: past the bound, the whole namespace). */
  private queue(deps: readonly string[]): void {
    for (const pending of this.pending) {
      for (const d of deps) pending.add(d);
      if (pending.size > MAX_PENDING_BUMPS) {
        pending.clear();
        for (const d of this.o.everything ?? [ALL_DEP]) pending.add(d);
      }
    }
  }

  /** Whether writes may mark and release their dependencies (one Redis, no replicas to wait for; see versions.ts). */
  get marks(): boolean {
    return this.layout.groups === 1 && (this.o.replicas ?? 0) <= 0;
  }

  /**
   * A write starts (only when {@link marks}): bumps `deps` with one more
   * write mark each, held `windowMs`, and publishes them, so that other
   * processes drop what depends on them now and fills refuse until
   * {@link release}. Carries the releases {@link releaseSoon} left waiting.
   * Resolves true once Redis has it.
   */
  async mark(deps: readonly string[], windowMs: number): Promise<boolean> {
    return (await this.once(deps, BumpOp.mark, windowMs)) !== undefined;
  }

  /**
   * The write committed: bumps `deps` again, one mark fewer each, and
   * publishes. If Redis cannot take it, the bumps wait in the queue like any
   * other (and the marks lapse at the end of their window).
   */
  async release(deps: readonly string[]): Promise<void> {
    await this.once(deps, BumpOp.release, 0);
  }

  /** Releases waiting to be sent ({@link releaseSoon}), in order; a dependency id once per mark it releases. */
  private releasing: string[] = [];

  /**
   * Like {@link release}, sent with the next mark or release of this
   * process, or on the next turn of the event loop if none comes first: a
   * write that follows another carries its release in the same command.
   */
  releaseSoon(deps: readonly string[]): void {
    if (this.releasing.length === 0) setImmediate(() => this.sendReleases());
    for (const d of deps) this.releasing.push(d);
  }

  /**
   * Sends the releases {@link releaseSoon} left waiting, now: a read about
   * to be sent on the same connection then snapshots the released counters
   * (commands on one connection run in order), and its fill is not refused
   * for a write this process has already committed.
   */
  sendReleases(): void {
    if (this.releasing.length > 0) void this.once([], BumpOp.release, 0);
  }

  /**
   * One bump script doing `op` to each of `deps`, after the releases waiting
   * (a counter released and marked is bumped once, {@link BumpOp.releaseAndMark}),
   * with their bus message. Undefined when Redis failed; then the releases
   * wait in the queue like any other bump (the marks lapse at the end of
   * their window).
   */
  private async once(deps: readonly string[], op: BumpOp, windowMs: number): Promise<unknown[] | undefined> {
    const released = this.releasing;
    if (released.length === 0 && deps.length === 0) return [];
    this.releasing = [];
    const { bumped, ops } = planBump(released, deps, op);
    const prefix = this.layout.prefix(0);
    const keys = bumped.map((d) => versionKey(prefix, d));
    const announced = released.length === 0 ? deps : [...new Set(bumped)];
    const { reply, published } = await this.bumpAtOnce(keys, announced, keys.length, ops, windowMs);
    if (!Array.isArray(reply)) {
      const lost = op === BumpOp.release ? bumped : released;
      if (lost.length > 0) {
        this.queue(lost);
        this.undelivered();
      }
      return undefined;
    }
    if (!published) void this.o.bus?.publish(announced);
    return reply;
  }

  /** Bumps wait for Redis: the replay is scheduled, and reported. */
  private undelivered(): void {
    this.scheduleReplay();
    // Every group queues the same ids (each holds its own copies of the counters).
    this.o.onUndelivered?.(Math.max(...this.pending.map((p) => p.size)));
  }

  /** The connection is ready again: delivers what waits, at once. */
  connected(): void {
    if (!this.waiting()) return;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    void this.flush();
  }

  /** Stops the replay timer. */
  close(): void {
    clearTimeout(this.retryTimer);
  }

  /**
   * Delivers every pending bump, and reads the versions of `read` in the same
   * script. Resolves to the versions after the bump (bumped and read), or
   * undefined when Redis failed (the bumps stay pending).
   */
  /** Flushes running now (a success inside one does not start another). */
  private flushing = 0;

  private async flush(read?: BumpRead): Promise<Map<string, string> | undefined> {
    this.flushing++;
    try {
      return await this.deliver(read);
    } finally {
      this.flushing--;
    }
  }

  private async deliver(read?: BumpRead): Promise<Map<string, string> | undefined> {
    const readGroup = read ? this.layout.groupOf(read.id) : -1;
    const sent = new Set<string>();
    /** Whether the bump script published the bus message (on one Redis). */
    let published = false;
    const results = await Promise.all(
      this.pending.map(async (pending, g) => {
        const batch = [...pending];
        pending.clear();
        const all = g === readGroup ? [...batch, ...read!.deps] : batch;
        if (all.length === 0) return new Map<string, string>();
        const keys = all.map((d) => versionKey(this.layout.prefix(g), d));
        let r: unknown;
        if (this.layout.groups === 1) ({ reply: r, published } = await this.bumpAtOnce(keys, batch, batch.length, BumpOp.bumpOnly.repeat(batch.length), 0));
        else r = await bumpEachKey(this.redis, this.breaker, keys, batch.length);
        if (!Array.isArray(r)) {
          for (const d of batch) pending.add(d);
          return undefined;
        }
        for (const d of batch) sent.add(d);
        const versions = new Map<string, string>();
        for (let i = 0; i < all.length; i++) versions.set(all[i]!, String(r[i] ?? ""));
        return versions;
      }),
    );
    if (sent.size > 0) {
      if (!published) void this.o.bus?.publish([...sent]);
      await this.replicated();
    }
    if (results.some((r) => r === undefined)) {
      this.undelivered();
      return undefined;
    }
    return readGroup >= 0 ? results[readGroup] : (results[0] ?? new Map());
  }

  /** Whether the bump script publishes the bus message; off for good once Redis refused PUBLISH in it. */
  private publishInScript = true;

  /**
   * One script bumps the first `n` of `keys` (`ops`: a {@link BumpOp} each,
   * see versions.ts), reads the others and publishes the bus message of
   * `bumped`, atomically (one Redis). `published` says whether the message
   * went out (if not, the caller publishes on its own once the bumps are in).
   */
  private async bumpAtOnce(
    keys: readonly string[],
    bumped: readonly string[],
    n: number,
    ops: string,
    windowMs: number,
  ): Promise<{ reply: unknown; published: boolean }> {
    const message = this.publishInScript ? this.o.bus?.prepare(bumped) : undefined;
    // One Redis: the script also moves the namespace's bump sequence (versions.ts), its last key.
    const args: (string | number)[] = [n, randomBase(), VERSION_TTL_MS, ops, windowMs, message?.channel ?? "", message?.text ?? "", "1"];
    const all = [...keys, versionKey(this.layout.prefix(0), SEQUENCE_DEP)];
    const reply = await this.breaker.call(() => this.redis.script(BUMP, all, args));
    return { reply, published: message !== undefined && this.settle(message, reply, keys.length) };
  }

  /**
   * Tells the bus how the message the bump script carried went: `reply` is
   * the script's (undefined when it failed), whose element `at` is 1 when
   * PUBLISH ran. Returns whether it was published (if not, the caller publishes on its own).
   */
  private settle(message: OutgoingMessage, reply: unknown, at: number): boolean {
    const bus = this.o.bus!;
    if (!Array.isArray(reply)) {
      // The script may or may not have run: its number counts as lost.
      bus.lost(message.seq);
      return false;
    }
    if (reply[at] === 1) {
      bus.published(message.seq);
      return true;
    }
    // Redis refused PUBLISH inside a script: the bumps stand; this batch and the next are published on their own.
    this.publishInScript = false;
    bus.lost(message.seq, new Error(`Redis refused PUBLISH from the bump script: ${String(reply[at])}`));
    return false;
  }

  /** With `replicas`: waits (at most the timeout) until that many replicas have what this connection wrote. */
  private async replicated(): Promise<void> {
    const wanted = this.o.replicas ?? 0;
    if (wanted <= 0) return;
    const acked = await waitForReplicas(this.redis, this.breaker, wanted, this.o.timeoutMs);
    if (acked < wanted) this.o.onReplicasShort?.(wanted, acked);
  }

  private scheduleReplay(): void {
    if (this.retryTimer) return;
    const wait = Math.max(50, this.breaker.openFor);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (this.waiting()) void this.flush();
    }, wait);
    this.retryTimer.unref();
  }
}
