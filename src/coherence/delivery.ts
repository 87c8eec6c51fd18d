/**
 * Waiters of `$cache.delivered()`: promises that settle once a remote
 * instance's message (or a later one of it) has been applied here, or when
 * their timeout passes or the bus closes.
 * @module
 */
import { BusDeliveryError } from "../errors.js";

interface Waiter {
  seq: number;
  resolve(): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout | undefined;
}

/** The pending waiters of one bus, by remote instance. */
export class DeliveryWaiters {
  private readonly byInstance = new Map<string, Set<Waiter>>();

  /** @param channel the bus channel, named in errors. */
  constructor(private readonly channel: string) {}

  /**
   * Resolves once {@link settle} reports `seq` (or later) of `instance`;
   * rejects with a {@link BusDeliveryError} (`reason: "timeout"`) after
   * `timeoutMs` when one is given.
   */
  wait(instance: string, seq: number, timeoutMs: number | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let set = this.byInstance.get(instance);
      if (!set) this.byInstance.set(instance, (set = new Set()));
      const waiters = set;
      const w: Waiter = { seq, resolve, reject, timer: undefined };
      if (timeoutMs !== undefined) {
        w.timer = setTimeout(() => {
          waiters.delete(w);
          if (waiters.size === 0 && this.byInstance.get(instance) === waiters) this.byInstance.delete(instance);
          reject(new BusDeliveryError("timeout", `message ${seq} of instance ${instance} was not delivered to ${this.channel} within ${timeoutMs} ms`));
        }, timeoutMs);
        w.timer.unref();
      }
      waiters.add(w);
    });
  }

  /** Every message of `instance` up to `max` has been applied: resolves the waiters it covers. */
  settle(instance: string, max: number): void {
    const set = this.byInstance.get(instance);
    if (!set) return;
    for (const w of set) {
      if (w.seq > max) continue;
      set.delete(w);
      clearTimeout(w.timer);
      w.resolve();
    }
    if (set.size === 0) this.byInstance.delete(instance);
  }

  /** The bus closed: rejects every waiter with a {@link BusDeliveryError} (`reason: "closed"`). */
  close(): void {
    for (const [instance, set] of this.byInstance) {
      for (const w of set) {
        clearTimeout(w.timer);
        w.reject(closedError(this.channel, instance, w.seq));
      }
    }
    this.byInstance.clear();
  }
}

/** The error of a wait the bus's closing ended. */
export const closedError = (channel: string, instance: string, seq: number): BusDeliveryError =>
  new BusDeliveryError("closed", `InvalidationBus on ${channel} was closed before message ${seq} of instance ${instance} was delivered`);
