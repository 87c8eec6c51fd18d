/**
 * A one-channel pub/sub subscriber on a connection of its own, resubscribing
 * after reconnects, shared by the invalidation bus and the dogpile lease.
 * @module
 */
import { RedisTimeoutError } from "../errors.js";
import type { ConnectionEvent, ConnectionListener, SubscriberConnection } from "../redis/client.js";
import { bounded, send } from "../tiers/commands.js";

/** Settings of a {@link ChannelSubscription}. @internal */
export interface ChannelSubscriptionOptions {
  /** The connection to SUBSCRIBE on. It enters subscriber mode. */
  connection: SubscriberConnection;
  /** Whether the subscription owns the connection (and quits it on close). */
  owned: boolean;
  /** The channel. */
  channel: string;
  /** Milliseconds a SUBSCRIBE may take before the attempt counts as failed (it may still succeed later). */
  subscribeTimeoutMs: number;
  /** Milliseconds for PING, UNSUBSCRIBE and QUIT. */
  commandTimeoutMs: number;
  /** Every message on the channel, in order. */
  onMessage(message: string): void;
  /** The channel is subscribed: for the first time (`first`), or again after the connection was lost. */
  onActive(first: boolean): void;
  /** A SUBSCRIBE failed or timed out. Retried: on the connection's next "ready", and with a backoff. */
  onFailure(err: unknown): void;
  /** An "error" event of the connection. */
  onError(err: unknown): void;
  /**
   * Milliseconds within which a subscription that stopped delivering is
   * noticed: the connection is PINGed every quarter of it while subscribed
   * ({@link ChannelSubscription.heardUntil}). Without it, no PING is sent.
   */
  heartbeatMs?: number;
  /** No PING reply or message came for `heartbeatMs` while subscribed (reported once per silence). */
  onSilent?(): void;
}

/** First delay before retrying a failed subscribe or publish, in ms (doubles each time). */
export const RETRY_MIN_MS = 100;
/** Longest delay between retries, in ms. */
export const RETRY_MAX_MS = 5_000;

/**
 * One channel subscribed on one connection, kept subscribed across
 * reconnects. It knows whether the subscription is live (`active`) and
 * counts how often it became live (`epoch`), so callers can tell whether
 * they could have missed a message.
 *
 * A reconnect is noticed through the connection's "close" and "ready"
 * events; after "ready" it SUBSCRIBEs again (the clients also resubscribe
 * on their own; a second SUBSCRIBE is harmless) and reports
 * `onActive(false)` once Redis confirms. With a Redis Cluster, the client
 * moves the subscriber between nodes by itself and not every move shows up
 * as "close".
 * @internal
 */
export class ChannelSubscription {
  private live = false;
  private everLive = false;
  private liveEpoch = 0;
  private started = false;
  private closed = false;
  private inflight = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryDelay = RETRY_MIN_MS;
  private readonly waiters = new Set<(ok: boolean) => void>();
  /** Until when the subscription is known to deliver (see {@link heardUntil}). */
  private heard = 0;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private connectTimer: NodeJS.Timeout | undefined;
  private pinging = false;
  private silentReported = false;
  private readonly listeners: ReadonlyArray<readonly [ConnectionEvent, ConnectionListener]>;
  /** Every message of the channel. */
  private readonly onMessage = (message: string): void => {
    if (this.closed) return;
    this.heardAt(Date.now());
    this.o.onMessage(message);
  };

  constructor(private readonly o: ChannelSubscriptionOptions) {
    this.listeners = [
      [
        "close",
        () => {
          this.live = false;
          this.heard = 0;
        },
      ],
      [
        "ready",
        () => {
          if (this.started) this.kick();
        },
      ],
      [
        "error",
        (err) => {
          if (!this.closed) o.onError(err);
        },
      ],
    ];
    for (const [event, listener] of this.listeners) o.connection.on(event, listener);
  }

  /** Whether the channel is subscribed right now. */
  get active(): boolean {
    return this.live;
  }

  /**
   * Until when (epoch ms) the subscription is known to deliver: while
   * subscribed, the time of the last PING reply or message plus
   * `heartbeatMs` (forever without a heartbeat); 0 while not subscribed.
   */
  get heardUntil(): number {
    return this.live ? this.heard : 0;
  }

  /** Delivery was seen to work at `at`. */
  private heardAt(at: number): void {
    const until = this.o.heartbeatMs === undefined ? Infinity : at + this.o.heartbeatMs;
    if (until > this.heard) this.heard = until;
    this.silentReported = false;
  }

  /** PINGs the connection while subscribed; a reply shows that everything published before it was delivered. */
  private beat(): void {
    const now = Date.now();
    if (!this.live || this.closed) return;
    if (now >= this.heard && !this.silentReported) {
      this.silentReported = true;
      this.o.onSilent?.();
    }
    if (this.pinging) return;
    this.pinging = true;
    const epoch = this.liveEpoch;
    let sent: Promise<unknown>;
    try {
      sent = this.o.connection.ping();
    } catch (err) {
      sent = Promise.reject(err);
    }
    sent.then(
      () => {
        this.pinging = false;
        if (this.live && this.liveEpoch === epoch) this.heardAt(now);
      },
      () => {
        this.pinging = false;
      },
    );
  }

  /** How many times the subscription became live. Unchanged epoch while `active` = no message was missed. */
  get epoch(): number {
    return this.liveEpoch;
  }

  /**
   * Starts (or joins) subscribing. Resolves true once subscribed, false if
   * an attempt failed or `timeoutMs` passed first; retries go on in the background.
   */
  subscribe(timeoutMs = this.o.subscribeTimeoutMs): Promise<boolean> {
    if (this.closed) return Promise.resolve(false);
    this.started = true;
    if (this.live) return Promise.resolve(true);
    // Kick first: its own deadline, set first, fires (and reports the failure) before this wait's.
    this.kick();
    return new Promise<boolean>((resolve) => {
      const done = (ok: boolean): void => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve(ok);
      };
      const timer = setTimeout(() => done(false), timeoutMs);
      timer.unref();
      this.waiters.add(done);
    });
  }

  /**
   * Resolves true when every message published before this call has been
   * passed to `onMessage`: a PING on the subscriber connection is answered
   * after them. False when that cannot be known (not subscribed, the
   * subscription was lost meanwhile, a Redis Cluster, or the PING failed).
   */
  async barrier(): Promise<boolean> {
    const c = this.o.connection;
    if (!this.live || c.cluster) return false;
    const epoch = this.liveEpoch;
    try {
      await bounded(() => c.ping(), this.o.commandTimeoutMs, "PING");
    } catch {
      return false;
    }
    return this.live && this.liveEpoch === epoch;
  }

  /** Unsubscribes; quits the connection if owned. Never throws; bounded by the command timeout. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.live = false;
    clearTimeout(this.retryTimer);
    clearInterval(this.heartbeatTimer);
    clearTimeout(this.connectTimer);
    for (const done of [...this.waiters]) done(false);
    const c = this.o.connection;
    const t = this.o.commandTimeoutMs;
    if (this.o.owned) {
      // Our "error" listener stays (it ignores everything now), so late socket errors are not "unhandled".
      if (c.state === "end") return;
      if (c.state !== "ready") return c.disconnect();
      // Pipelined: one round trip, one deadline.
      send(() => c.unsubscribe(this.o.channel, this.onMessage)).catch(() => undefined);
      await bounded(() => c.quit(), t, "QUIT").catch(() => c.disconnect());
      return;
    }
    if (c.state === "ready") await bounded(() => c.unsubscribe(this.o.channel, this.onMessage), t, "UNSUBSCRIBE").catch(() => undefined);
    for (const [event, listener] of this.listeners) c.off(event, listener);
  }

  /** Sends SUBSCRIBE unless one is pending or the channel is live. */
  private kick(): void {
    if (this.closed || this.live || this.inflight) return;
    // Not connected yet: the "ready" listener subscribes (a SUBSCRIBE now would fail at once without an offline queue).
    const c = this.o.connection;
    if (c.state !== "ready" && c.state !== "end") {
      if (c.state === "wait") c.connect();
      // Not connected within the subscribe timeout counts as a failed attempt (retried on "ready").
      this.connectTimer ??= setTimeout(() => {
        this.connectTimer = undefined;
        // Before the waiters' own timers (same delay, armed later): the failure is reported first.
        if (this.live || this.closed || this.o.connection.state === "ready") return;
        for (const done of [...this.waiters]) done(false);
        this.o.onFailure(new RedisTimeoutError(`SUBSCRIBE ${this.o.channel}: not connected within ${this.o.subscribeTimeoutMs} ms`));
      }, this.o.subscribeTimeoutMs);
      this.connectTimer.unref();
      return;
    }
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.inflight = true;
    let reported = false;
    const fail = (err: unknown): void => {
      if (reported) return;
      reported = true;
      for (const done of [...this.waiters]) done(false);
      this.o.onFailure(err);
    };
    // A timed-out SUBSCRIBE stays pending (the client sends it when it reconnects): no second one meanwhile.
    // It is reported as failed at the exact timeout (its own timer, not a command deadline), before
    // the waiters that `subscribe(timeoutMs)` bounds with the same timeout give up.
    const overdue = setTimeout(
      () => fail(new RedisTimeoutError(`SUBSCRIBE ${this.o.channel} timed out after ${this.o.subscribeTimeoutMs} ms`)),
      this.o.subscribeTimeoutMs,
    );
    overdue.unref();
    let command: Promise<unknown>;
    try {
      command = this.o.connection.subscribe(this.o.channel, this.onMessage);
    } catch (err) {
      command = Promise.reject(err);
    }
    command.then(
      () => {
        clearTimeout(overdue);
        this.inflight = false;
        if (this.closed) return;
        this.live = true;
        this.liveEpoch++;
        clearTimeout(this.connectTimer);
        this.connectTimer = undefined;
        this.heardAt(Date.now());
        const hb = this.o.heartbeatMs;
        if (hb !== undefined && !this.heartbeatTimer) {
          this.heartbeatTimer = setInterval(() => this.beat(), Math.max(5, Math.floor(hb / 4)));
          this.heartbeatTimer.unref();
        }
        this.retryDelay = RETRY_MIN_MS;
        const first = !this.everLive;
        this.everLive = true;
        for (const done of [...this.waiters]) done(true);
        this.o.onActive(first);
      },
      (err: unknown) => {
        clearTimeout(overdue);
        this.inflight = false;
        if (this.closed) return;
        fail(err);
        if (this.o.connection.state === "end") return; // the client gave up reconnecting; so do we
        this.retryTimer = setTimeout(() => this.kick(), this.retryDelay);
        this.retryTimer.unref();
        this.retryDelay = Math.min(this.retryDelay * 2, RETRY_MAX_MS);
      },
    );
  }
}
