/**
 * Every error class of prisma-tiered-cache. Those an application can meet
 * extend {@link CacheError} and carry a stable `code`; the schema parser's
 * own (`SchemaError`) never leaves the library.
 * @module
 */

/** Codes carried by {@link CacheError} and its subclasses. */
export type CacheErrorCode = "PTC_CONFIG" | "PTC_USAGE" | "PTC_REDIS_TIMEOUT" | "PTC_NOT_DELIVERED" | "PTC_FEED_SETUP";

/** Brands every error of every copy of the library with its class names (an app may load the ESM and the CJS build). */
const BRAND = Symbol.for("prisma-tiered-cache.error.v1");

/**
 * Base class of every error this library throws on purpose. `instanceof`
 * also holds across the ESM and CJS builds loaded in one process: an error
 * thrown by one copy is an instance of the other copy's class of the same name.
 */
export class CacheError extends Error {
  /** Stable machine-readable code. */
  readonly code: CacheErrorCode;

  constructor(code: CacheErrorCode, message: string) {
    super(message);
    this.name = new.target.name;
    this.code = code;
    const names: string[] = [];
    for (let c: unknown = new.target; typeof c === "function" && c !== Error; c = Object.getPrototypeOf(c)) names.push((c as { name: string }).name);
    Object.defineProperty(this, BRAND, { value: names });
  }

  /** `instanceof`: this class or a subclass, from this copy of the library or another. */
  static [Symbol.hasInstance](value: unknown): boolean {
    // biome-ignore lint/complexity/noThisInStatic: `this` is the class instanceof asks about (a subclass inherits this method)
    if (Function.prototype[Symbol.hasInstance].call(this, value)) return true;
    const names = typeof value === "object" && value !== null ? (value as { [BRAND]?: unknown })[BRAND] : undefined;
    // biome-ignore lint/complexity/noThisInStatic: as above
    return Array.isArray(names) && names.includes(this.name);
  }
}

/** One invalid configuration field: its dotted path and what is wrong with it. */
export interface ConfigIssue {
  /** Dotted path of the field, e.g. `models.Post.ttl`. */
  path: string;
  /** What is wrong with it. */
  message: string;
}

/**
 * Thrown by `prismaCache(options)` (and when the extension is applied to a
 * client) when the options are invalid. The message lists every bad field.
 */
export class CacheConfigError extends CacheError {
  /** Every invalid field found. */
  readonly issues: readonly ConfigIssue[];

  constructor(issues: readonly ConfigIssue[]) {
    super(
      "PTC_CONFIG",
      `Invalid prisma-tiered-cache options (${issues.length} problem${issues.length === 1 ? "" : "s"}):\n` +
        issues.map((i) => `  - ${i.path || "(root)"}: ${i.message}`).join("\n"),
    );
    this.issues = issues;
  }
}

/** Thrown when an API of the cache is called with arguments it cannot accept. */
export class CacheUsageError extends CacheError {
  constructor(message: string) {
    super("PTC_USAGE", message);
  }
}

/**
 * A Redis command outlived `redisTimeout`. The cache never throws it to a
 * query: the read goes on to the database, and a bump is queued for replay.
 * It reaches `stats().redisErrors` and the logs of the cache's own internals.
 */
export class RedisTimeoutError extends CacheError {
  constructor(message: string) {
    super("PTC_REDIS_TIMEOUT", message);
  }
}

/** Why a `$cache.delivered(...)` promise rejected. */
export class BusDeliveryError extends CacheError {
  /** `"closed"`: the cache was closed first; `"timeout"`: the wait's `timeoutMs` passed first. */
  readonly reason: "closed" | "timeout";

  constructor(reason: "closed" | "timeout", message: string) {
    super("PTC_NOT_DELIVERED", message);
    this.reason = reason;
  }
}

/**
 * The change feed cannot start: the database's settings or the user's rights
 * do not allow it (`wal_level` is not `logical`, no replication right, the
 * binlog is off or not in `ROW` format, the slot is held elsewhere, the
 * publication lacks a table). The message names the setting to change. The
 * cache keeps working without the feed; a `degraded` event carries it.
 */
export class FeedSetupError extends CacheError {
  /** The setting, right or object to change, e.g. `wal_level`, `REPLICATION`, `binlog_format`. */
  readonly setting: string;

  constructor(setting: string, message: string) {
    super("PTC_FEED_SETUP", message);
    this.setting = setting;
  }
}

/**
 * Internal: the schema parser (deps/schema.ts) met text it does not
 * understand. `parseRelations` catches it and returns `undefined`, so it never
 * reaches an application (not exported from the package).
 */
export class SchemaError extends Error {}
