/**
 * Redis commands with deadlines, and Lua scripts: the one mechanism the
 * Redis tier, the bus, the subscriptions and the leases use. A command that
 * outlives its timeout is rejected with a {@link RedisTimeoutError},
 * whatever the client's own options (offline queue, retries, reconnect
 * strategy); a synchronous throw (ioredis does that in some states) becomes
 * a rejection. The commands themselves go through the client's adapter
 * (redis/client.ts).
 * @module
 */
import { createHash } from "node:crypto";
import { RedisTimeoutError } from "../errors.js";
import type { RedisConnection, Script } from "../redis/client.js";
import { readyWithin } from "./connection.js";

export type { Script } from "../redis/client.js";

/** Runs `command`, turning a synchronous throw into a rejection. */
export function send<T>(command: () => Promise<T>): Promise<T> {
  try {
    return command();
  } catch (err) {
    return Promise.reject(err);
  }
}

/**
 * Command timeouts with one shared timer instead of a timer per command
 * (setTimeout + clearTimeout per call costs about as much as an L1 hit).
 */
export class Deadlines {
  private readonly pending = new Set<{ at: number; expire: () => void }>();
  private timer: NodeJS.Timeout | undefined;
  private readonly every: number;
  /** When the sweep last ran (0: not running). */
  private lastSweep = 0;

  constructor(private readonly timeoutMs: number) {
    this.every = Math.max(5, Math.floor(timeoutMs / 5));
  }

  /** Calls `expire` once the deadline has passed, unless {@link done} is called first. */
  add(expire: () => void): { at: number; expire: () => void } {
    const now = Date.now();
    const entry = { at: now + this.timeoutMs, expire };
    this.pending.add(entry);
    if (!this.timer) {
      this.lastSweep = now;
      this.timer = setInterval(() => this.sweep(), this.every);
      this.timer.unref();
    }
    return entry;
  }

  /** The command settled: its deadline no longer applies. Returns false if it had already expired. */
  done(entry: { at: number; expire: () => void }): boolean {
    return this.pending.delete(entry);
  }

  private sweep(): void {
    const now = Date.now();
    // Time this process could not run (a blocked event loop: a long synchronous task, an embedded
    // database, a GC pause) says nothing of Redis: it does not count against the commands waiting.
    const stalled = now - this.lastSweep - this.every * 2;
    this.lastSweep = now;
    if (stalled > 0) for (const e of this.pending) e.at += stalled;
    const expired = [...this.pending].filter((e) => e.at <= now);
    if (expired.length > 0) {
      // After one turn of I/O: if the event loop was blocked past the deadline, a
      // reply that has already arrived still wins (it removes its entry).
      setImmediate(() => {
        for (const e of expired) if (this.pending.delete(e)) e.expire();
      });
    }
    if (this.pending.size === expired.length) {
      clearInterval(this.timer);
      this.timer = undefined;
      this.lastSweep = 0;
    }
  }
}

/** One {@link Deadlines} (one sweep timer) per timeout value, shared by every user of that value. */
const byTimeout = new Map<number, Deadlines>();

/** The shared deadlines of commands that may take `timeoutMs`. */
export function deadlinesFor(timeoutMs: number): Deadlines {
  let d = byTimeout.get(timeoutMs);
  if (!d) byTimeout.set(timeoutMs, (d = new Deadlines(timeoutMs)));
  return d;
}

/**
 * Runs one Redis command with a deadline of `ms`. Rejects with a
 * {@link RedisTimeoutError} naming `what` when it outlives it.
 */
export function bounded<T>(command: () => Promise<T>, ms: number, what = "Redis command"): Promise<T> {
  const deadlines = deadlinesFor(ms);
  return new Promise<T>((resolve, reject) => {
    const entry = deadlines.add(() => reject(new RedisTimeoutError(`${what} timed out after ${ms} ms`)));
    send(command).then(
      (v) => deadlines.done(entry) && resolve(v),
      (e: unknown) => deadlines.done(entry) && reject(e),
    );
  });
}

/**
 * Runs one command like {@link bounded}, on a client that may not have
 * connected yet: then it first waits (within `ms`) for the client to be
 * ready, whatever its options (with ioredis's `enableOfflineQueue: false`
 * or node-redis's `disableOfflineQueue`, the client would fail the command
 * at once).
 */
export async function whenConnected<T>(redis: RedisConnection, command: () => Promise<T>, ms: number, what: string): Promise<T> {
  const state = redis.state;
  if (state !== "ready" && state !== "end") await readyWithin(redis, ms);
  return bounded(command, ms, what);
}

/** A script from its source. */
export function script(source: string): Script {
  return { source, sha: createHash("sha1").update(source).digest("hex") };
}
