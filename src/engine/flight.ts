/**
 * In-process single-flight: concurrent reads of one key share one flight.
 * Joiners get copies of the value the flight stored, in the same step as the
 * leader (their reactions run before the leader's caller resumes).
 * @module
 */
import type { Fetched } from "./request.js";

/** What joiners of a background refresh that left the work to another process get. */
export const SKIPPED = Symbol("skipped");

/** The flights running in this process, by L1 key. */
export class Flights {
  private readonly inflight = new Map<string, Promise<Fetched | typeof SKIPPED>>();

  /** How many flights are running. */
  get size(): number {
    return this.inflight.size;
  }

  /** Whether a flight for `key` is running. */
  has(key: string): boolean {
    return this.inflight.has(key);
  }

  /** The running flight for `key`: it resolves to what it fetched (copy its `stored` value) or {@link SKIPPED}. */
  running(key: string): Promise<Fetched | typeof SKIPPED> | undefined {
    return this.inflight.get(key);
  }

  /**
   * Runs `flight` for `key` and resolves to the caller's value (saving a
   * promise hop on every miss); `observe`, when given, sees what it fetched.
   */
  value(key: string, flight: Promise<Fetched>, observe?: (fetched: Fetched) => void): Promise<unknown> {
    return this.register(key, flight, observe ? (r) => (observe(r!), r?.value) : (r) => r?.value);
  }

  /** Runs `flight` for `key` (which may leave the work to another process) and resolves to what it fetched. */
  fetched(key: string, flight: Promise<Fetched | undefined>): Promise<Fetched | undefined> {
    return this.register(key, flight, (r) => r);
  }

  /** Registers a flight so that joiners share it, and removes it when it settles. */
  private register<R>(key: string, flight: Promise<Fetched | undefined>, pick: (r: Fetched | undefined) => R): Promise<R> {
    let resolveShared!: (v: Fetched | typeof SKIPPED) => void;
    let rejectShared!: (e: unknown) => void;
    const shared = new Promise<Fetched | typeof SKIPPED>((res, rej) => ((resolveShared = res), (rejectShared = rej)));
    shared.catch(() => undefined);
    this.inflight.set(key, shared);
    const settle = () => {
      if (this.inflight.get(key) === shared) this.inflight.delete(key);
    };
    return flight.then(
      (r) => {
        settle();
        resolveShared(r ?? SKIPPED);
        return pick(r);
      },
      (err: unknown) => {
        settle();
        rejectShared(err);
        throw err;
      },
    );
  }
}
