/**
 * The circuit breaker of the Redis tier: every command it sends has the
 * `redisTimeout` deadline; failures are counted and open the circuit after
 * `breaker.failures` in a row, for `breaker.cooldown`. A cold start (a
 * connection that was never ready) waits for the first connection within
 * the timeout, and not being connected yet opens nothing.
 * @module
 */
import { RedisTimeoutError } from "../errors.js";
import { deadlinesFor, type Deadlines, send } from "./commands.js";
import type { ConnectionWatch } from "./connection.js";

/** Settings of a {@link Breaker}. */
export interface BreakerOptions {
  timeoutMs: number;
  /** Consecutive failures that open the circuit (`breaker.failures`). */
  failureThreshold: number;
  /** Milliseconds the circuit stays open (`breaker.cooldown`). */
  cooldownMs: number;
  /** Called on every failed or timed-out command. */
  onError?: (err: unknown) => void;
  /**
   * Redis refused a command the cache needs (an ACL without it, a managed
   * Redis or Cluster that disables it, scripting turned off): called once
   * per command, with the command's name and Redis's error.
   */
  onRefused?: (command: string, err: Error) => void;
  /** The circuit opened: `failures` commands failed in a row, and Redis is skipped for `cooldownMs`. */
  onOpen?: (failures: number) => void;
  /** The circuit closed: a command succeeded after it had opened. */
  onClose?: () => void;
}

/** Redis's answer to a command it will not run for this user or server. */
const REFUSED = /NOPERM|unknown command|command not allowed|disabled/i;

/** Sends commands under one deadline and one circuit. */
export class Breaker {
  private failures = 0;
  private openUntil = 0;
  private readonly deadlines: Deadlines;
  /** Called after a command succeeds while bumps wait to be replayed (set by the bump queue). */
  onSuccess: (() => void) | undefined;

  constructor(
    private readonly connection: ConnectionWatch,
    private readonly o: BreakerOptions,
  ) {
    this.deadlines = deadlinesFor(o.timeoutMs);
  }

  /** Whether the circuit is closed (Redis is worth trying). */
  get available(): boolean {
    return this.openUntil === 0 || Date.now() >= this.openUntil;
  }

  /** Milliseconds until the circuit closes again (0 when closed). */
  get openFor(): number {
    return Math.max(0, this.openUntil - Date.now());
  }

  /** Counts a failure: reported, and the circuit opens after `failureThreshold` in a row. */
  failed(err: unknown): void {
    this.failures++;
    if (this.failures >= this.o.failureThreshold) {
      const wasClosed = this.openUntil === 0;
      this.openUntil = Date.now() + this.o.cooldownMs;
      if (wasClosed) this.o.onOpen?.(this.failures);
    }
    this.o.onError?.(err);
    if (err instanceof Error && REFUSED.test(err.message)) {
      const command = (/'([^']+)'/.exec(err.message)?.[1] ?? "unknown").toUpperCase();
      if (!this.refused.has(command)) {
        this.refused.add(command);
        this.o.onRefused?.(command, err);
      }
    }
  }

  /** Commands Redis refused, reported once each. */
  private readonly refused = new Set<string>();

  /**
   * Awaits one command with the timeout, and `map`s its reply. Failures are
   * counted, reported, and resolve to undefined.
   */
  call<T, R = T>(command: () => Promise<T>, map?: (value: T) => R | PromiseLike<R | undefined>): Promise<R | undefined> {
    const { connection, o } = this;
    // A cold start: wait for the first connection (within the timeout) instead of failing at once.
    if (!connection.everReady) {
      return connection.whenReady(o.timeoutMs).then((ok) => {
        if (ok) return this.call(command, map);
        // Not connected yet is not a failure of Redis: the circuit stays closed.
        o.onError?.(new RedisTimeoutError(`Redis did not connect within ${o.timeoutMs} ms`));
        return undefined;
      });
    }
    return new Promise<R | undefined>((resolve) => {
      const failed = (err: unknown) => {
        this.failed(err);
        resolve(undefined);
      };
      const deadline = this.deadlines.add(() => failed(new RedisTimeoutError(`Redis command timed out after ${o.timeoutMs} ms`)));
      send(command).then(
        (value) => {
          if (!this.deadlines.done(deadline)) return;
          this.failures = 0;
          if (this.openUntil !== 0) {
            this.openUntil = 0;
            o.onClose?.();
          }
          this.onSuccess?.();
          try {
            resolve(map ? map(value) : (value as unknown as R));
          } catch (err) {
            failed(err);
          }
        },
        (err: unknown) => {
          if (this.deadlines.done(deadline)) failed(err);
        },
      );
    });
  }
}
