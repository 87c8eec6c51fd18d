/**
 * What travels on the invalidation bus: the wire format of a message, the
 * id of a published bump, and why a receiver flushes L1.
 * @module
 */

/** Why the bus asks the caller to flush L1. */
export type BusResetReason =
  /** First subscription made: anything cached before it was not covered by the bus. */
  | "connect"
  /** Subscribed again after the subscriber connection dropped: messages may have been missed. */
  | "reconnect"
  /** A remote instance's sequence skipped numbers: messages were lost. */
  | "gap"
  /** Subscribing failed or timed out (the bus keeps retrying), or `onRemote` threw. */
  | "error";

/** A bump published on the invalidation bus: the sender's instance id and its sequence number. */
export interface BumpId {
  /** The publishing process's instance id (`instanceId` of its bus). */
  instance: string;
  /** Its sequence number in that instance, from 1. */
  seq: number;
}

/** A decoded bus message. */
export interface BusMessage {
  /** Sender's `instanceId`. */
  instance: string;
  /** Sender's sequence number, from 1, +1 per publish. */
  seq: number;
  /** Dependency ids whose versions were bumped; empty in a resync message (see {@link InvalidationBus.publish}). */
  deps: string[];
  /** When the sender published it (its `Date.now()`), for the bus-lag metric; undefined from senders that do not say. */
  sentAt: number | undefined;
}

/** A numbered bus message that its sender publishes itself (the bump script does, see `InvalidationBus.prepare`). */
export interface OutgoingMessage {
  /** The bus channel. */
  readonly channel: string;
  /** The message, in the {@link encodeBusMessage} format. */
  readonly text: string;
  /** Its sequence number. */
  readonly seq: number;
}

/**
 * The wire format: JSON `[instance, seq, deps, sentAt]`, e.g.
 * `["9f0e1a2b3c4d5e6f",42,["m:Post","r:User:7"],1796140000000]`. Messages
 * without `sentAt` (`[instance, seq, deps]`) are accepted too.
 */
export function encodeBusMessage(instance: string, seq: number, deps: readonly string[], sentAt = Date.now()): string {
  return JSON.stringify([instance, seq, deps, sentAt]);
}

/** Parses a bus message; undefined if it is not in the {@link encodeBusMessage} format. */
export function decodeBusMessage(text: string): BusMessage | undefined {
  let m: unknown;
  try {
    m = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!Array.isArray(m) || (m.length !== 3 && m.length !== 4)) return undefined;
  const [instance, seq, deps, sentAt] = m as [unknown, unknown, unknown, unknown];
  if (typeof instance !== "string" || instance === "") return undefined;
  if (typeof seq !== "number" || !Number.isSafeInteger(seq) || seq < 1) return undefined;
  if (!Array.isArray(deps) || !deps.every((d) => typeof d === "string")) return undefined;
  if (sentAt !== undefined && (typeof sentAt !== "number" || !Number.isFinite(sentAt))) return undefined;
  return { instance, seq, deps: deps as string[], sentAt };
}
