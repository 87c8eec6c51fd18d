/**
 * The namespace's read counts in Redis (`warm: { top }`): one sorted set,
 * `<prefix>:hot`, whose members are encoded reads and whose scores are their
 * sampled counts. Writes to it are sent without waiting, in one pipeline per
 * batch; it is trimmed to a bound now and then, and expires when no process
 * has recorded anything for a week. A new process reads its highest members.
 * @module
 */
import type { RedisConnection } from "../redis/client.js";
import { bounded, whenConnected } from "./commands.js";
import { layoutFor, VERSION_TTL_MS } from "./entry.js";

/** Settings of a {@link HotSet}. */
export interface HotSetOptions {
  namespace: string;
  /** Deadline of each command, in ms (`redisTimeout`). */
  timeoutMs: number;
  /** Most members kept: the lowest-ranked beyond it are removed when the set is trimmed. */
  maxMembers: number;
  /** Counts a failed or timed-out command. */
  onError: (err: unknown) => void;
}

/** Members added between two trims of the set. */
const TRIM_EVERY = 100;

/** The sorted set of one namespace's read counts. */
export class HotSet {
  /** The set's key: under the namespace (in the first hash-tag group on a Cluster, so that one node holds it). */
  readonly key: string;
  private addedSinceTrim = 0;

  constructor(
    private readonly redis: RedisConnection,
    private readonly options: HotSetOptions,
  ) {
    this.key = `${layoutFor(options.namespace, redis.cluster).prefix(0)}:hot`;
  }

  /** Whether commands can be sent now. */
  get connected(): boolean {
    return this.redis.state === "ready";
  }

  /**
   * Adds `increment` to the score of each member (ZINCRBY), keeps the set
   * alive for a week, and trims it every {@link TRIM_EVERY} members. Never
   * rejects; resolves once Redis answered (or the deadline passed).
   */
  async add(members: ReadonlyMap<string, number>): Promise<void> {
    if (members.size === 0) return;
    const commands: (string | number)[][] = [];
    for (const [member, increment] of members) commands.push(["ZINCRBY", this.key, increment, member]);
    commands.push(["PEXPIRE", this.key, VERSION_TTL_MS]);
    this.addedSinceTrim += members.size;
    if (this.addedSinceTrim >= TRIM_EVERY) {
      this.addedSinceTrim = 0;
      // Keeps the `maxMembers` highest; ties and newcomers below them go first.
      commands.push(["ZREMRANGEBYRANK", this.key, 0, -(this.options.maxMembers + 1)]);
    }
    try {
      const replies = await bounded(() => this.redis.pipeline(this.key, commands), this.options.timeoutMs, "hot-set update");
      const failed = replies.find((r) => r instanceof Error);
      if (failed) this.options.onError(failed);
    } catch (err) {
      this.options.onError(err);
    }
  }

  /** The `n` highest members, highest first; empty when Redis failed (counted). */
  async top(n: number): Promise<string[]> {
    try {
      const read = () => this.redis.pipeline(this.key, [["ZREVRANGE", this.key, 0, n - 1]]);
      const [members] = await whenConnected(this.redis, read, this.options.timeoutMs, "hot-set read");
      if (members instanceof Error) throw members;
      return members as string[];
    } catch (err) {
      this.options.onError(err);
      return [];
    }
  }
}
