/**
 * The dogpile lease: one process regenerates a key while the others wait.
 * A lease is `SET <namespace>:lock:<key> <token> NX PX <ttl>`, released by a
 * Lua compare-and-delete that also publishes a wake-up on
 * `<namespace>:lease` when the lease was awaited (a read that found it held,
 * or a wait, marks it so: tiers/entry.ts). Waiters are woken by that message, with a
 * backoff poll of PTTL as the fallback (never a tight loop), and give up
 * after a bounded wait. Redis failures never throw: they read as "no lease" or
 * "timeout", and the caller goes to the database itself.
 * @module
 */
import { randomBytes } from "node:crypto";
import type { RedisConnection, SubscriberConnection } from "../redis/client.js";
import { script, whenConnected } from "../tiers/commands.js";
import { LEASE_LUA, leaseChannel } from "../tiers/entry.js";

/**
 * Releases a dogpile lease: compare-and-delete, then a wake-up for waiters.
 * KEYS[1] lease key. ARGV[1] the holder's token, ARGV[2] wake-up channel,
 * ARGV[3] wake-up message (the lease's key as callers name it).
 * Deletes the key only when it still holds the token, so a holder whose
 * lease expired (and was taken by someone else) changes nothing, and
 * publishes only when a reader marked the lease as awaited.
 * Returns 1 when released, 0 otherwise. A fill releases its lease in its own
 * script the same way (tiers/entry.ts).
 */
const RELEASE_LEASE = script(`
${LEASE_LUA}
return release_lease(KEYS[1], ARGV[1], ARGV[2], ARGV[3])
`);

/** Marks the lease KEYS[1] as awaited, if it is held (`mark_awaited` in tiers/entry.ts), so that its release publishes the wake-up. */
const MARK_AWAITED = script(`
${LEASE_LUA}
mark_awaited(KEYS[1])
return 1
`);
import type { Lease, LeaseManagerOptions, LeaseStats, LeaseWaitOutcome } from "./lease-types.js";
import { ChannelSubscription } from "./subscription.js";

export type { Lease, LeaseManagerOptions, LeaseStats, LeaseWaitOutcome } from "./lease-types.js";

/** One key's waiters and their shared poll loop. */
interface KeyWait {
  readonly key: string;
  readonly waiters: Set<(outcome: LeaseWaitOutcome) => void>;
  delay: number;
  timer: NodeJS.Timeout | undefined;
  /** Last PTTL seen while the lease was held, with the local time it arrived. */
  last: { pttl: number; at: number } | undefined;
  /** Subscription epoch when the wait began, -1 if not subscribed then. */
  readonly epoch: number;
  done: boolean;
}

/** A lease that vanished this much earlier than its TTL allowed was deleted, not expired. */
const SLACK_MS = 50;

/** Subscribing the wake-up channel may take this long before it counts as failed (and is retried). */
const SUBSCRIBE_TIMEOUT_MS = 2_000;

/** Acquires, releases and waits for dogpile leases. */
export class LeaseManager {
  /** The wake-up channel, `${namespace}:lease`. */
  readonly channel: string;
  private readonly redis: RedisConnection;
  private readonly ttlMs: number;
  private readonly waitTimeoutMs: number;
  private readonly pollMs: number;
  private readonly maxPollMs: number;
  private readonly timeoutMs: number;
  private readonly waits = new Map<string, KeyWait>();
  private subscription: ChannelSubscription | undefined;
  private closed = false;
  private polls = 0;
  private wakeups = 0;

  constructor(private readonly options: LeaseManagerOptions) {
    this.redis = options.redis;
    this.channel = leaseChannel(options.namespace);
    this.ttlMs = options.ttlMs;
    this.waitTimeoutMs = options.waitTimeoutMs;
    this.pollMs = positive(options.pollMs, 10);
    this.maxPollMs = Math.max(this.pollMs, positive(options.maxPollMs, 200));
    this.timeoutMs = options.timeoutMs;
  }

  /** The Redis key of the lease on `key`. */
  lockKey(key: string): string {
    return this.options.lockKey?.(key) ?? `${this.options.namespace}:lock:${key}`;
  }

  /** The lease's lifetime in milliseconds (`lock.ttl`). */
  get leaseMs(): number {
    return Math.max(1, Math.ceil(this.ttlMs));
  }

  /**
   * A token for a lease a script takes with other work (a read that takes
   * it on a miss, tiers/entry.ts); undefined once the manager is closed.
   */
  token(): string | undefined {
    return this.closed ? undefined : this.newToken();
  }

  /** Tokens: a random part per manager and a count, unique among holders, and cheap enough for every read. */
  private readonly tokenBase = randomBytes(12).toString("base64url");
  private tokens = 0;
  private newToken(): string {
    return `${this.tokenBase}.${++this.tokens}`;
  }

  /**
   * Wakes this manager's waiters on `key`, whose lease a script released
   * with other work (a fill that releases its lease).
   */
  releasedElsewhere(key: string): void {
    this.wake(key);
  }

  /**
   * Tries to take the lease on `key` for `ttlMs` (default: the manager's).
   * Resolves to the lease, or undefined when someone else holds it or
   * Redis failed or timed out (a SET that succeeds after its timeout is
   * released again at once). Never throws.
   */
  async acquire(key: string, ttlMs = this.ttlMs): Promise<Lease | undefined> {
    if (this.closed) return undefined;
    const token = this.newToken();
    const px = Math.max(1, Math.ceil(ttlMs));
    const lockKey = this.lockKey(key);
    let sent: Promise<boolean> | undefined;
    const startedAt = Date.now();
    try {
      const taken = await whenConnected(this.redis, () => (sent = this.redis.setIfAbsent(lockKey, token, px)), this.timeoutMs, "SET NX");
      if (!taken) return undefined;
    } catch (err) {
      this.report(err);
      sent?.then(
        (late) => (late ? this.release(key, token) : undefined),
        () => undefined,
      );
      return undefined;
    }
    return { key, token, expiresAt: startedAt + px, release: () => this.release(key, token) };
  }

  /**
   * Releases the lease on `key` if `token` still holds it (compare-and-delete
   * in one script, which also publishes the wake-up), and wakes this
   * manager's waiters at once. Resolves true when released. Never throws.
   */
  async release(key: string, token: string): Promise<boolean> {
    let released: boolean;
    try {
      const r = await whenConnected(
        this.redis,
        () => this.redis.script(RELEASE_LEASE, [this.lockKey(key)], [token, this.channel, key]),
        this.timeoutMs,
        "lease release",
      );
      released = r === 1;
    } catch (err) {
      this.report(err);
      return false;
    }
    if (released) this.wake(key);
    return released;
  }

  /**
   * Waits until the lease on `key` is released or gone, at most
   * `waitTimeoutMs`. Concurrent waits on one key share one poll loop; all
   * waits share one subscription (opened on the first wait). An abort of
   * `signal` ends this wait as "timeout". The lease is marked as awaited
   * first (its release publishes the wake-up only then), unless `marked`:
   * the read that found it held marked it already (tiers/entry.ts).
   * Never rejects.
   */
  waitForRelease(key: string, options: { signal?: AbortSignal; marked?: boolean } = {}): Promise<LeaseWaitOutcome> {
    const { signal, marked = false } = options;
    if (this.closed || signal?.aborted) return Promise.resolve("timeout");
    const w = this.waits.get(key) ?? this.beginWait(key, marked);
    return new Promise<LeaseWaitOutcome>((resolve) => {
      const finish = (outcome: LeaseWaitOutcome): void => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        w.waiters.delete(finish);
        if (w.waiters.size === 0) this.endWait(w);
        resolve(outcome);
      };
      const onAbort = (): void => finish("timeout");
      const timer = setTimeout(() => finish("timeout"), this.waitTimeoutMs);
      timer.unref();
      signal?.addEventListener("abort", onAbort, { once: true });
      w.waiters.add(finish);
    });
  }

  /**
   * Subscribes the wake-up channel now instead of on the first wait.
   * Resolves true once subscribed, false if that failed or took longer than
   * 2 s (it keeps trying), or when the manager polls only.
   */
  subscribe(): Promise<boolean> {
    return this.ensureSubscription()?.subscribe() ?? Promise.resolve(false);
  }

  /** Counters since the manager was created. */
  get stats(): LeaseStats {
    return { polls: this.polls, wakeups: this.wakeups, waitingKeys: this.waits.size };
  }

  /**
   * Ends every wait as "timeout" and closes the subscription (quitting the
   * connection the manager opened). Leases already held can still be
   * released. Never throws.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const w of [...this.waits.values()]) this.settle(w, "timeout");
    await this.subscription?.close();
  }

  private ensureSubscription(): ChannelSubscription | undefined {
    if (this.subscription || this.closed || this.options.subscriber === false) return this.subscription;
    let connection: SubscriberConnection;
    try {
      connection = this.options.subscriber ? this.options.subscriber.subscriber() : this.redis.duplicate();
    } catch (err) {
      this.report(err);
      return undefined;
    }
    this.subscription = new ChannelSubscription({
      connection,
      owned: this.options.subscriber === undefined,
      channel: this.channel,
      subscribeTimeoutMs: SUBSCRIBE_TIMEOUT_MS,
      commandTimeoutMs: this.timeoutMs,
      onMessage: (key) => this.wake(key),
      onActive: () => undefined,
      onFailure: (err) => this.report(err),
      onError: (err) => this.report(err),
    });
    return this.subscription;
  }

  private beginWait(key: string, marked: boolean): KeyWait {
    const sub = this.ensureSubscription();
    if (sub && !sub.active) void sub.subscribe();
    // Sent before the first poll, on the same connection. Released before it lands, the lease is found gone by the poll.
    if (!marked) {
      const mark = () => this.redis.script(MARK_AWAITED, [this.lockKey(key)], []);
      whenConnected(this.redis, mark, this.timeoutMs, "lease mark").catch((err: unknown) => this.report(err));
    }
    const w: KeyWait = {
      key,
      waiters: new Set(),
      delay: this.pollMs,
      timer: undefined,
      last: undefined,
      epoch: sub?.active ? sub.epoch : -1,
      done: false,
    };
    this.waits.set(key, w);
    this.poll(w);
    return w;
  }

  private poll(w: KeyWait): void {
    w.timer = undefined;
    if (w.done) return;
    this.polls++;
    const sent = Date.now();
    whenConnected(this.redis, () => this.redis.pttl(this.lockKey(w.key)), this.timeoutMs, "PTTL").then(
      (pttl) => this.polled(w, pttl, sent, Date.now()),
      (err: unknown) => {
        this.report(err);
        this.settle(w, "timeout");
      },
    );
  }

  /**
   * A poll's answer: `pttl` as Redis saw it between `sent` and `now` (when
   * the answer was handled, however late the event loop got to it).
   */
  private polled(w: KeyWait, pttl: number, sent: number, now: number): void {
    if (w.done) return;
    if (pttl === -2) {
      void this.vanished(w, now);
      return;
    }
    // Redis read the two TTLs at least `sent - w.last.at` apart: a bound a busy event loop cannot inflate
    // (measured to this answer's handling instead, the loop's lag would pass for time the lease lived).
    if (pttl >= 0 && w.last && pttl > w.last.pttl - (sent - w.last.at) + SLACK_MS) {
      // More time left than the lease we saw could have: it was released and taken again.
      this.wakeups++;
      this.settle(w, "released");
      return;
    }
    if (pttl >= 0) w.last = { pttl, at: now };
    // Back off, but look again right after the lease would run out.
    const next = Math.max(this.pollMs, Math.min(w.delay, pttl >= 0 ? pttl + 1 : w.delay));
    w.delay = Math.min(w.delay * 2, this.maxPollMs);
    w.timer = setTimeout(() => this.poll(w), next);
    w.timer.unref();
  }

  /**
   * The lease key is gone: released or expired? If the subscription has
   * been live since before we saw the lease held, a PING on it (answered
   * after every message published before) settles it: no release message
   * by then means it expired. Otherwise judge by time: gone well before its
   * TTL could run out means deleted.
   */
  private async vanished(w: KeyWait, now: number): Promise<void> {
    const sub = this.subscription;
    const covered = sub !== undefined && w.last !== undefined && w.epoch >= 0 && sub.active && sub.epoch === w.epoch;
    if (covered && (await sub.barrier())) {
      this.settle(w, "expired"); // no-op if the release message arrived before the PING reply
      return;
    }
    const early = w.last === undefined || now - w.last.at + SLACK_MS < w.last.pttl;
    if (early && !w.done) this.wakeups++;
    this.settle(w, early ? "released" : "expired");
  }

  private wake(key: string): void {
    const w = this.waits.get(key);
    if (!w) return;
    this.wakeups++;
    this.settle(w, "released");
  }

  /** Ends the wait on a key for all its waiters. */
  private settle(w: KeyWait, outcome: LeaseWaitOutcome): void {
    if (w.done) return;
    this.endWait(w);
    for (const finish of [...w.waiters]) finish(outcome);
  }

  /** Stops the key's poll loop and forgets it. */
  private endWait(w: KeyWait): void {
    w.done = true;
    clearTimeout(w.timer);
    if (this.waits.get(w.key) === w) this.waits.delete(w.key);
  }

  private report(err: unknown): void {
    try {
      this.options.onError?.(err);
    } catch {
      // a counting callback must not break the manager
    }
  }
}

function positive(value: number | undefined, fallback: number): number {
  return value !== undefined && Number.isFinite(value) && value > 0 ? value : fallback;
}
