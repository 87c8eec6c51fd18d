/**
 * Gap detection on the bus: the in-order sequence numbers heard from each
 * other instance. Pub/sub may drop messages, so a number past the next one
 * expected (or a 1 after higher numbers: the sender restarted) is a gap,
 * and the receiver must flush L1. Pure bookkeeping, no I/O.
 * @module
 */

/** What is known of one sender. */
interface Sender {
  /** Last in-order seq; undefined = accept the next one as a new start. */
  last: number | undefined;
  /** Highest seq delivered. */
  max: number;
}

/** Senders remembered by default; the least recently heard one is forgotten past this. */
export const MAX_SENDERS = 10_000;

/** The sequence numbers heard from each sender, least recently heard first. */
export class SenderSequences {
  private readonly senders = new Map<string, Sender>();

  /** @param max senders remembered; the least recently heard one is forgotten past it. */
  constructor(private readonly max = MAX_SENDERS) {}

  /**
   * Message `seq` of `sender` arrived. Returns whether it reveals a gap, and
   * the highest number delivered from that sender. A number older than the
   * last one seen (possible on a Cluster, where publishes may enter through
   * different nodes) is no gap.
   */
  heard(sender: string, seq: number): { gap: boolean; max: number } {
    let gap = false;
    let s = this.senders.get(sender);
    if (s) {
      this.senders.delete(sender); // re-inserted below: most recently heard last
      if (s.last === undefined || seq === s.last + 1) s.last = seq;
      else if (seq > s.last + 1 || seq === 1) {
        gap = true;
        s.last = seq;
      } // else: late or repeated; no gap
      s.max = Math.max(s.max, seq);
    } else {
      s = { last: seq, max: seq };
      if (this.senders.size >= this.max) this.senders.delete(this.senders.keys().next().value!);
    }
    this.senders.set(sender, s);
    return { gap, max: s.max };
  }

  /** The highest number delivered from `sender` (0 if none). */
  maxOf(sender: string): number {
    return this.senders.get(sender)?.max ?? 0;
  }

  /** Messages may have been missed (the subscription was down, and L1 flushed): each sender's next number starts afresh. */
  restart(): void {
    for (const s of this.senders.values()) s.last = undefined;
  }
}
