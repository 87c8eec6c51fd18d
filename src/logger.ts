/**
 * The optional `logger`: what an operator should know, told as one line
 * each. It listens to the runtime's events like any `$cache.on` listener.
 * @module
 */
import type { CacheEvent, EventHub } from "./events.js";
import type { CacheLogger } from "./options.js";

const PREFIX = "prisma-tiered-cache:";

const errorText = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/** The level and line of an event, or undefined for the events a logger is not told (per-read ones). */
export function logLine(event: CacheEvent): [keyof CacheLogger, string] | undefined {
  switch (event.type) {
    case "circuit-open":
      return [
        "warn",
        `Redis circuit opened after ${event.failures} failed commands in a row; Redis is skipped for ${event.cooldown} ms, reads go to the database`,
      ];
    case "circuit-closed":
      return ["info", "Redis circuit closed: Redis answers again"];
    case "l1-flushed":
      return ["info", `L1 flushed (reason: ${event.reason})`];
    case "lease-timeout":
      return ["warn", `gave up waiting for another process's regeneration lease and queried the database (key ${event.key})`];
    case "bumps-pending":
      return [
        "error",
        `Redis did not take a write's bump: ${event.pending} bump(s) wait in this process and are replayed once Redis answers; other processes may serve what those writes changed until then`,
      ];
    case "stale-detected":
      return [
        "error",
        `audit: a cached value differs from the database (key ${event.key}, dependencies ${event.deps.join(" ")}, cached ${event.cachedAge} ms ago, database read ${event.databaseAge} ms ago)`,
      ];
    case "bus-silent":
      return ["warn", `the invalidation bus has not answered for ${event.heartbeat} ms: L1 is not served until it does`];
    case "replicas-short":
      return ["warn", `only ${event.acknowledged} of ${event.wanted} Redis replicas had a bump within redisTimeout`];
    case "degraded":
      return ["warn", `${event.internal} unavailable: ${event.effect}`];
    case "fingerprint-error":
      return ["warn", `the database fingerprint could not be taken (${errorText(event.error)}); Redis is not used until it is`];
    case "refresh-error":
      return ["warn", `a background refresh failed: ${errorText(event.error)}`];
    case "grace":
      return ["warn", `the database failed (${errorText(event.error)}); a cached value was served within grace`];
    case "bypass":
      return ["info", `${event.model}.${event.operation} is not cached (${event.reason}): ${event.detail}`];
    case "feed-status":
      return [event.status === "waiting" || event.status === "failed" ? "warn" : "info", `change feed ${event.status}${event.error ? `: ${event.error}` : ""}`];
    case "refreshed":
    case "lease-wait":
      return ["debug", event.type === "refreshed" ? `refreshed ${event.key}` : `waiting for another process's regeneration lease (key ${event.key})`];
  }
}

/** Tells `logger` of every event `events` reports. A logger that throws is ignored, like any listener. */
export function logEvents(events: EventHub, logger: CacheLogger): void {
  events.on((event) => {
    const line = logLine(event);
    if (line) logger[line[0]](`${PREFIX} ${line[1]}`);
  });
}
