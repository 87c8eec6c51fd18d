/**
 * The invalidation bus: version bumps (dependency ids, never values) go out
 * on a Redis pub/sub channel, so that other processes drop the L1 entries
 * they outdate. Pub/sub is at-most-once, so every message carries a
 * per-instance sequence number: a gap, a lost subscriber connection or a
 * subscription that could not be made tells the caller to flush L1
 * (`onReset`).
 * @module
 */
import { randomBytes } from "node:crypto";
import { CacheUsageError } from "../errors.js";
import { closedError, DeliveryWaiters } from "./delivery.js";
import { whenConnected } from "../tiers/commands.js";
import { type BumpId, type BusResetReason, decodeBusMessage, encodeBusMessage, type OutgoingMessage } from "./message.js";
import { SenderSequences } from "./sequences.js";
import type { RedisConnection, SubscriberConnection } from "../redis/client.js";
import { ChannelSubscription, RETRY_MAX_MS, RETRY_MIN_MS } from "./subscription.js";

/** Settings of an {@link InvalidationBus}. */
export interface InvalidationBusOptions {
  /** The application's client. Publishes go through it; the subscriber is `redis.duplicate()`, owned by the bus. */
  redis: RedisConnection;
  /** Cache namespace; the channel is `${namespace}:bus`. */
  namespace: string;
  /**
   * Identity of this bus in messages. Must be unique among live buses on the
   * namespace (messages with the own id are ignored).
   * @default 16 random hex digits
   */
  instanceId?: string;
  /**
   * Bumps published by another instance, in arrival order. Not called for a
   * resync message (no deps). Should not throw (a throw is reported and resets).
   */
  onRemote(deps: string[], from: BumpId, sentAt: number | undefined): void;
  /** L1 can no longer be trusted to have seen every bump: flush it. */
  onReset(reason: BusResetReason): void;
  /** Failed or timed-out commands, subscriber connection errors, malformed messages. For counting; never thrown. */
  onError?(err: unknown): void;
  /**
   * Milliseconds `start()` waits for the subscription; a SUBSCRIBE slower than
   * this counts as failed (`onReset("error")`) but keeps going.
   * @default 2000
   */
  subscribeTimeoutMs?: number;
  /**
   * Milliseconds a PUBLISH (and UNSUBSCRIBE/QUIT on close) may take.
   * @default 500
   */
  timeoutMs?: number;
  /**
   * Milliseconds within which a subscriber that stopped delivering is
   * noticed ({@link InvalidationBus.heardUntil}); without it, the bus is
   * taken to deliver while subscribed.
   */
  heartbeatMs?: number;
  /** The subscriber answered nothing for `heartbeatMs` while subscribed. */
  onSilent?(): void;
}

/** Options of {@link InvalidationBus.delivered}. */
export interface DeliveredOptions {
  /** Reject with a {@link BusDeliveryError} (`reason: "timeout"`) after this many milliseconds. Default: wait until delivered or closed. */
  timeoutMs?: number;
}

/**
 * Publishes this process's version bumps and applies other processes'.
 *
 * Delivery can be observed with the promise API {@link delivered} (no
 * event emitter): the writer publishes seq `n`, the reader awaits
 * `readerBus.delivered(writerBus.instanceId, n)`.
 *
 * Ordering: publishes of one instance leave on one connection, so a single
 * Redis delivers them in order. A message older than the last one seen
 * (possible on a Cluster, where publishes may enter through different
 * nodes) is applied and is not a gap; seq 1 after higher numbers means the
 * sender restarted with the same id, treated as a gap.
 *
 * A failed publish is not resent (receivers flush instead): until a later
 * message of this instance gets through, the bus retries an empty "resync"
 * message with the next number, so receivers see the gap soon rather than
 * at this instance's next write.
 */
export class InvalidationBus {
  /** This bus's identity in messages. */
  readonly instanceId: string;
  /** The pub/sub channel, `${namespace}:bus`. */
  readonly channel: string;
  private seq = 0;
  /** Highest seq whose publish failed and that no later successful publish has revealed yet. */
  private unrevealed = 0;
  private resyncTimer: NodeJS.Timeout | undefined;
  private resyncDelay = RETRY_MIN_MS;
  private closed = false;
  private errorReported = false;
  private subscription: ChannelSubscription | undefined;
  private readonly senders = new SenderSequences();
  private readonly waiters: DeliveryWaiters;
  private readonly timeoutMs: number;
  private readonly subscribeTimeoutMs: number;

  constructor(private readonly options: InvalidationBusOptions) {
    if (options.instanceId === "") throw new CacheUsageError("InvalidationBus: instanceId must be a non-empty string");
    this.instanceId = options.instanceId ?? randomBytes(8).toString("hex");
    this.channel = `${options.namespace}:bus`;
    this.waiters = new DeliveryWaiters(this.channel);
    this.timeoutMs = options.timeoutMs ?? 500;
    this.subscribeTimeoutMs = options.subscribeTimeoutMs ?? 2_000;
  }

  /**
   * Opens the subscriber connection (`redis.duplicate()`) and subscribes.
   * Resolves once subscribed, or after `subscribeTimeoutMs` (or a failed
   * attempt), whichever comes first; it never rejects. If not subscribed
   * by then, `onReset("error")` has been called and subscribing goes on in
   * the background; see {@link subscribed}. The first successful
   * subscription calls `onReset("connect")`. Calling it again joins.
   */
  async start(): Promise<void> {
    if (this.closed) return;
    if (!this.subscription) {
      let connection: SubscriberConnection;
      try {
        connection = this.options.redis.duplicate();
      } catch (err) {
        this.report(err);
        this.reset("error");
        return;
      }
      this.subscription = new ChannelSubscription({
        connection,
        owned: true,
        channel: this.channel,
        subscribeTimeoutMs: this.subscribeTimeoutMs,
        commandTimeoutMs: this.timeoutMs,
        onMessage: (m) => this.receive(m),
        onActive: (first) => this.activated(first),
        onFailure: (err) => this.failed(err),
        onError: (err) => this.report(err),
        heartbeatMs: this.options.heartbeatMs,
        onSilent: () => this.options.onSilent?.(),
      });
    }
    await this.subscription.subscribe();
  }

  /**
   * Until when (epoch ms) the bus is known to deliver other processes' bumps:
   * 0 while not subscribed, and with a heartbeat, the last sign of life plus
   * `heartbeatMs`. L1 entries are served only before it.
   */
  get heardUntil(): number {
    return this.subscription?.heardUntil ?? 0;
  }

  /** Whether the bus is subscribed right now (remote bumps reach `onRemote`). */
  get subscribed(): boolean {
    return this.subscription?.active ?? false;
  }

  /** The sequence number of this instance's latest publish (0 before the first). */
  get lastSeq(): number {
    return this.seq;
  }

  /**
   * Publishes bumped dependency ids with the next sequence number, through
   * the main connection. Resolves to that number, or undefined when the
   * publish failed or timed out (reported to `onError`; the lost number
   * shows as a gap to the receivers, who then flush, and a resync message
   * is retried with backoff until one gets through) or when there was
   * nothing to send (empty `deps`, closed bus). Never throws.
   */
  async publish(deps: readonly string[]): Promise<number | undefined> {
    if (this.closed || deps.length === 0) return undefined;
    return this.send(deps);
  }

  /**
   * Numbers a message for `deps` that the caller publishes itself, on the
   * main connection (the bump script does, so that a write sends one command,
   * not two). Report its outcome with {@link published} or {@link lost}.
   * Undefined when there is nothing to send (empty `deps`, closed bus).
   */
  prepare(deps: readonly string[]): OutgoingMessage | undefined {
    return this.closed || deps.length === 0 ? undefined : this.next(deps);
  }

  /** The next numbered message (an empty `deps` is a resync). */
  private next(deps: readonly string[]): OutgoingMessage {
    const seq = ++this.seq;
    return { channel: this.channel, text: encodeBusMessage(this.instanceId, seq, deps), seq };
  }

  /** A message numbered `seq` reached Redis: any earlier lost number is revealed by it. */
  published(seq: number): void {
    if (seq <= this.unrevealed) return;
    this.unrevealed = 0;
    this.resyncDelay = RETRY_MIN_MS;
    clearTimeout(this.resyncTimer);
    this.resyncTimer = undefined;
  }

  /**
   * A message numbered `seq` may not have reached Redis (`error`, when
   * given, is reported): receivers will see the gap once a later number gets
   * through, and a resync message is retried until one does.
   */
  lost(seq: number, error?: unknown): void {
    if (error !== undefined) this.report(error);
    this.unrevealed = Math.max(this.unrevealed, seq);
    this.scheduleResync();
  }

  private async send(deps: readonly string[]): Promise<number | undefined> {
    const { seq, text } = this.next(deps);
    try {
      await whenConnected(this.options.redis, () => this.options.redis.publish(this.channel, text), this.timeoutMs, "PUBLISH");
    } catch (err) {
      this.lost(seq, err);
      return undefined;
    }
    this.published(seq);
    return seq;
  }

  private scheduleResync(): void {
    if (this.closed || this.resyncTimer) return;
    this.resyncTimer = setTimeout(() => {
      this.resyncTimer = undefined;
      if (!this.closed && this.unrevealed > 0) void this.send([]);
    }, this.resyncDelay);
    this.resyncTimer.unref();
    this.resyncDelay = Math.min(this.resyncDelay * 2, RETRY_MAX_MS);
  }

  /**
   * Resolves once this bus has received the message `seq` of `instance` (or
   * a later one of it) and passed it to `onRemote` (and, on a gap, to
   * `onReset`). Rejects with a {@link BusDeliveryError} when the bus closes
   * first or `options.timeoutMs` passes, and with a `CacheUsageError` for
   * the bus's own instance (own messages are ignored).
   */
  delivered(instance: string, seq: number, options: DeliveredOptions = {}): Promise<void> {
    if (instance === this.instanceId) {
      return Promise.reject(new CacheUsageError("InvalidationBus.delivered(): own messages are ignored; pass another bus's instanceId"));
    }
    if (this.senders.maxOf(instance) >= seq) return Promise.resolve();
    if (this.closed) return Promise.reject(closedError(this.channel, instance, seq));
    return this.waiters.wait(instance, seq, options.timeoutMs);
  }

  /**
   * Unsubscribes and quits the subscriber connection (the application's
   * client is left open), and rejects pending `delivered()` promises with a
   * {@link BusDeliveryError} (`reason: "closed"`). Never throws; safe to call twice.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.resyncTimer);
    this.waiters.close();
    await this.subscription?.close();
  }

  private receive(text: string): void {
    const m = decodeBusMessage(text);
    if (!m) {
      const preview = text.length > 100 ? `${text.slice(0, 100)}…` : text;
      this.report(new Error(`Ignored a malformed message on ${this.channel}: ${JSON.stringify(preview)}`));
      return;
    }
    if (m.instance === this.instanceId) return;
    const { gap, max } = this.senders.heard(m.instance, m.seq);
    let failed = false;
    try {
      if (m.deps.length > 0) this.options.onRemote(m.deps, { instance: m.instance, seq: m.seq }, m.sentAt);
    } catch (err) {
      this.report(err);
      failed = true;
    }
    if (gap) this.reset("gap");
    if (failed) this.reset("error");
    this.waiters.settle(m.instance, max);
  }

  private activated(first: boolean): void {
    this.errorReported = false;
    // Messages may have been missed while down; the flush covers them, so restart gap tracking.
    if (!first) this.senders.restart();
    this.reset(first ? "connect" : "reconnect");
  }

  private failed(err: unknown): void {
    this.report(err);
    if (this.errorReported) return;
    this.errorReported = true;
    this.reset("error");
  }

  private reset(reason: BusResetReason): void {
    if (this.closed) return;
    try {
      this.options.onReset(reason);
    } catch (err) {
      this.report(err);
    }
  }

  private report(err: unknown): void {
    try {
      this.options.onError?.(err);
    } catch {
      // a counting callback must not break the bus
    }
  }
}
