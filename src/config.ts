/**
 * Options of `prismaCache(...)`: the zod schema, the one {@link DEFAULTS}
 * object, and the option types (written out, with their JSDoc, rather than
 * inferred from zod, so that each option documents its default).
 * @module
 */
import type { Redis } from "ioredis";
import { z } from "zod";
import { CacheConfigError, type ConfigIssue } from "./errors.js";
import { canonicalize } from "./keys.js";
import type { ScopeSource } from "./prisma/declare.js";

/**
 * An ioredis client (`new Redis(...)`). The cache never closes it. A
 * `Cluster` is not accepted yet (its type is not, and at run time it is
 * rejected with a `CacheConfigError`).
 */
export type RedisClient = Redis;

const seconds = (what: string) =>
  z
    .number({ error: `${what} must be a number of seconds` })
    .finite(`${what} must be finite`)
    .nonnegative(`${what} must be >= 0`);

const tagList = z.array(z.string().min(1, "a tag must be a non-empty string").max(200, "a tag must be at most 200 characters"), {
  error: "tags must be an array of strings",
});

const redisSchema = z
  .custom<RedisClient>(
    (v) =>
      typeof v === "object" &&
      v !== null &&
      typeof (v as Record<string, unknown>).mget === "function" &&
      typeof (v as Record<string, unknown>).evalsha === "function" &&
      typeof (v as Record<string, unknown>).duplicate === "function",
    { error: "redis must be an ioredis client (new Redis(...))" },
  )
  .refine((v) => (v as { isCluster?: unknown }).isCluster !== true, {
    error: "redis is an ioredis Cluster, which is not supported yet (an entry and its version counters can lie in different slots); pass a Redis client",
  });

const modelSchema = z.strictObject({
  ttl: seconds("ttl").optional(),
  swr: seconds("swr").optional(),
  grace: seconds("grace").optional(),
  tags: tagList.optional(),
  cache: z.boolean({ error: "cache must be a boolean (false turns caching off for the model)" }).optional(),
  invalidation: z.enum(["invalidate", "write-through"], { error: 'invalidation must be "invalidate" or "write-through"' }).optional(),
  dependsOn: z.array(z.string().min(1), { error: "dependsOn must be an array of model names" }).optional(),
});

const l1Schema = z.strictObject({
  max: z.number().int("l1.max must be an integer").positive("l1.max must be > 0").optional(),
  maxBytes: z.number().int("l1.maxBytes must be an integer").positive("l1.maxBytes must be > 0").optional(),
  ttl: seconds("l1.ttl").optional(),
});

/** Whether a value has a canonical form (and so can be part of a key). */
function canonicalizable(v: unknown): boolean {
  try {
    canonicalize(v);
    return true;
  } catch {
    return false;
  }
}

/** A zod issue in words; unknown keys are listed by name. */
function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code !== "unrecognized_keys") return issue.message;
  return `unknown option${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((k) => `"${k}"`).join(", ")}`;
}

/** `false`, or an l1 object whose bad fields are each named (a plain union would report only "l1"). */
const l1Field = z
  .unknown()
  .superRefine((v, ctx) => {
    if (v === false || v === undefined) return;
    if (typeof v !== "object" || v === null || Array.isArray(v)) {
      ctx.addIssue({ code: "custom", message: "l1 must be false or an object { max, maxBytes, ttl }" });
      return;
    }
    const r = l1Schema.safeParse(v);
    if (!r.success) for (const issue of r.error.issues) ctx.addIssue({ code: "custom", path: issue.path, message: describeIssue(issue) });
  })
  .transform((v) => v as false | L1Options | undefined);

const optionsSchema = z.strictObject({
  redis: redisSchema.optional(),
  namespace: z
    .string()
    .min(1, "namespace must be a non-empty string")
    .max(100, "namespace must be at most 100 characters")
    .regex(/^[A-Za-z0-9_.:-]+$/, "namespace may only contain letters, digits and _ . : -")
    .optional(),
  ttl: seconds("ttl").optional(),
  swr: seconds("swr").optional(),
  grace: seconds("grace").optional(),
  earlyRefresh: z
    .number({ error: "earlyRefresh must be a number (the XFetch beta; 0 turns it off)" })
    .finite()
    .nonnegative("earlyRefresh must be >= 0")
    .optional(),
  lock: z
    .union(
      [
        z.literal(false),
        z.strictObject({
          ttl: z.number().int().positive("lock.ttl must be > 0 milliseconds").optional(),
          wait: z.number().int().nonnegative("lock.wait must be >= 0 milliseconds").optional(),
        }),
      ],
      { error: "lock must be false or an object { ttl, wait }" },
    )
    .optional(),
  l1: l1Field.optional(),
  models: z.record(z.string(), modelSchema, { error: "models must be an object keyed by model name" }).optional(),
  redisTimeout: z.number().int().positive("redisTimeout must be > 0 milliseconds").optional(),
  rowLevel: z.boolean({ error: "rowLevel must be a boolean" }).optional(),
  scope: z
    .custom<ScopeSource>((v) => typeof v === "function" || canonicalizable(v), {
      error: "scope must be a function returning the caller's scope, or a value (string, number, bigint, boolean, null, or an array or plain object of them)",
    })
    .optional(),
  breaker: z
    .strictObject({
      failures: z.number().int().positive("breaker.failures must be an integer > 0").optional(),
      cooldown: z.number().int().nonnegative("breaker.cooldown must be >= 0 milliseconds").optional(),
    })
    .optional(),
});

/** Per-model options under `models.<ModelName>`. */
export interface ModelCacheOptions {
  /**
   * Seconds a cached read of this model stays fresh. Overrides the global `ttl`;
   * the query's `cache.ttl` overrides it. 0 turns caching off.
   * @default the global `ttl`
   */
  ttl?: number;
  /**
   * Seconds past `ttl` during which a stale value may still be served while one caller refreshes it.
   * @default the global `swr`
   */
  swr?: number;
  /**
   * Seconds past `ttl` during which a cached value is served if the database query fails.
   * @default the global `grace`
   */
  grace?: number;
  /**
   * Tags attached to every cached read of the model and bumped by every write to it.
   * @default []
   */
  tags?: string[];
  /**
   * `false` never caches reads of this model.
   * @default true
   */
  cache?: boolean;
  /**
   * `"write-through"` stores a create/update/upsert result as the model's find-by-id entry
   * instead of only invalidating it.
   * @default "invalidate"
   */
  invalidation?: "invalidate" | "write-through";
  /**
   * Extra models whose writes make this model's cached reads stale.
   * @default []
   */
  dependsOn?: string[];
}

/** Options of the in-process tier (L1). */
export interface L1Options {
  /**
   * Maximum number of entries.
   * @default 10000
   */
  max?: number;
  /**
   * Maximum total size in bytes (approximate: encoded length).
   * @default 67108864 (64 MiB)
   */
  maxBytes?: number;
  /**
   * Seconds an entry may be served from L1 before it is checked against L2 again.
   * With Redis this bounds how long another process's write can go unseen if the
   * invalidation bus is down. Never longer than the entry's own ttl.
   * @default 5
   */
  ttl?: number;
}

/** Options of `prismaCache(options)`. */
export interface CacheOptions {
  /**
   * An ioredis client (`new Redis(...)`) for the shared tier (L2). Redis
   * Cluster is not supported yet and is rejected.
   * Without it the cache is in-process only.
   * @default undefined
   */
  redis?: RedisClient;
  /**
   * Prefix of every Redis key and of the pub/sub channel. Processes that share data share a namespace.
   * @default "ptc"
   */
  namespace?: string;
  /**
   * Seconds a cached read stays fresh, for every model. Without it (or with 0),
   * only models and queries that set a `ttl` are cached.
   * @default undefined (not cached)
   */
  ttl?: number;
  /**
   * Seconds past `ttl` during which a stale value is served at once while one
   * caller (cluster-wide) refreshes it in the background.
   * @default 0
   */
  swr?: number;
  /**
   * Seconds past `ttl` during which a cached value is served when the database
   * query fails (the failure is counted in `stats().graceServed` and reported
   * to `$cache.on(...)` listeners). Outside it, Prisma's error reaches the caller.
   * @default 0
   */
  grace?: number;
  /**
   * Probabilistic early refresh (XFetch, Vattani et al., VLDB 2015): a hit
   * close to expiry refreshes the entry in the background with a probability
   * that grows as expiry nears and with how long the query took. This is the
   * `beta` factor; 0 turns it off.
   * @default 1
   */
  earlyRefresh?: number;
  /**
   * The regeneration lock (dogpile lease) in Redis: one process recomputes a
   * missing key while the others wait for it. `ttl`: how long a lease lives if
   * its holder dies (ms); `wait`: how long a waiter waits before querying the
   * database itself (ms). `false` keeps only the in-process single-flight.
   * @default { ttl: 10000, wait: 5000 }
   */
  lock?: false | { ttl?: number; wait?: number };
  /**
   * The in-process tier, or `false` to use Redis only.
   * @default { max: 10000, maxBytes: 67108864, ttl: 5 }
   */
  l1?: false | L1Options;
  /**
   * Per-model options, keyed by model name as written in the schema (e.g. `Post`).
   * @default {}
   */
  models?: Record<string, ModelCacheOptions>;
  /**
   * Milliseconds after which a Redis command is abandoned and the query goes to the database.
   * @default 500
   */
  redisTimeout?: number;
  /**
   * Row-level dependencies: a `findUnique` depends on its row, so a write to
   * another row of the model leaves it cached. `false` makes every cached read
   * depend on its whole model (coarser, for comparison or debugging).
   * Needs the schema text the generated client carries; without it the cache
   * falls back to model level on its own.
   * @default true
   */
  rowLevel?: boolean;
  /**
   * Circuit breaker of the Redis tier: after `failures` failed or timed-out
   * commands in a row, Redis is skipped for `cooldown` milliseconds (reads go
   * to L1 and the database; bumps are queued and replayed).
   * @default { failures: 5, cooldown: 5000 }
   */
  breaker?: { failures?: number; cooldown?: number };
  /**
   * How results vary in the client the cache is applied to, when it has query
   * extensions (a tenant filter, row-level security set per request): a value
   * (one per client), or a function called on each cached read, typically
   * reading an `AsyncLocalStorage` store. It becomes part of every key, and it
   * lets reads through that client's query extensions be cached. Extensions
   * chained after the cache are declared with `cacheScope` or `cacheNeutral`.
   * Without it, reads through a client with query extensions are not cached.
   * @default undefined (no scope)
   */
  scope?: ScopeSource;
}

/** Per-query `cache` option: `false` bypasses the cache for this call. */
export type QueryCacheOption =
  | false
  | {
      /** Seconds this result stays fresh. 0 skips caching. @default the model's or global ttl */
      ttl?: number;
      /** Seconds past ttl during which a stale value may be served. @default the model's or global swr */
      swr?: number;
      /** Extra tags for this entry, invalidated with `$cache.invalidate({ tags })`. @default [] */
      tags?: string[];
      /** A key of your own for this entry, used instead of the hash of the arguments. @default undefined */
      key?: string;
    };

/** Options of `prisma.$queryRawCached(sql, options)`: what the raw query reads. */
export interface RawCacheOptions {
  /** Models the query reads: a write to any of them makes the entry stale. @default [] */
  models?: string[];
  /** Tags of the entry, invalidated with `$cache.invalidate({ tags })`. @default [] */
  tags?: string[];
  /** Seconds the result stays fresh. 0 does not cache. @default the global ttl */
  ttl?: number;
  /** A key of your own, used instead of the hash of the SQL and its values. @default undefined */
  key?: string;
}

/** Options with every default filled in. */
export interface ResolvedOptions {
  redis: RedisClient | undefined;
  namespace: string;
  ttl: number;
  swr: number;
  grace: number;
  earlyRefresh: number;
  lock: false | { ttl: number; wait: number };
  l1: false | Required<L1Options>;
  models: Record<string, Required<Omit<ModelCacheOptions, "ttl" | "swr" | "grace">> & { ttl?: number; swr?: number; grace?: number }>;
  redisTimeout: number;
  breaker: { failures: number; cooldown: number };
  rowLevel: boolean;
  scope: ScopeSource | undefined;
}

/** Every default, in one place: the values the README and the option docs state. */
export const DEFAULTS = {
  namespace: "ptc",
  /** No ttl: nothing is cached until a model or query sets one. */
  ttl: 0,
  swr: 0,
  grace: 0,
  earlyRefresh: 1,
  lock: { ttl: 10_000, wait: 5_000 },
  l1: { max: 10_000, maxBytes: 64 * 2 ** 20, ttl: 5 } satisfies Required<L1Options>,
  redisTimeout: 500,
  breaker: { failures: 5, cooldown: 5_000 },
  rowLevel: true,
  /** `$cache.delivered(...)` timeout, in ms. */
  deliveredTimeout: 5_000,
} as const;

function toIssues(error: z.ZodError): ConfigIssue[] {
  return error.issues.map((i) => ({ path: i.path.map(String).join("."), message: describeIssue(i) }));
}

/**
 * Validates options and fills in defaults.
 * @throws {CacheConfigError} listing every invalid field.
 */
export function resolveOptions(input: unknown): ResolvedOptions {
  const parsed = optionsSchema.safeParse(input ?? {});
  if (!parsed.success) throw new CacheConfigError(toIssues(parsed.error));
  const o = parsed.data;
  const models: ResolvedOptions["models"] = {};
  for (const [name, m] of Object.entries(o.models ?? {})) {
    models[name] = {
      ttl: m.ttl,
      swr: m.swr,
      grace: m.grace,
      tags: m.tags ?? [],
      cache: m.cache ?? true,
      invalidation: m.invalidation ?? "invalidate",
      dependsOn: m.dependsOn ?? [],
    };
  }
  const d = DEFAULTS;
  return {
    redis: o.redis,
    namespace: o.namespace ?? d.namespace,
    ttl: o.ttl ?? d.ttl,
    swr: o.swr ?? d.swr,
    grace: o.grace ?? d.grace,
    earlyRefresh: o.earlyRefresh ?? d.earlyRefresh,
    lock: o.lock === false ? false : { ttl: o.lock?.ttl ?? d.lock.ttl, wait: o.lock?.wait ?? d.lock.wait },
    l1: o.l1 === false ? false : { ...d.l1, ...o.l1 },
    models,
    redisTimeout: o.redisTimeout ?? d.redisTimeout,
    breaker: { failures: o.breaker?.failures ?? d.breaker.failures, cooldown: o.breaker?.cooldown ?? d.breaker.cooldown },
    rowLevel: o.rowLevel ?? d.rowLevel,
    scope: o.scope,
  };
}

/**
 * Checks model names in the options against the client's data model.
 * @throws {CacheConfigError} naming every unknown model.
 */
export function checkModelNames(options: ResolvedOptions, known: readonly string[]): void {
  const issues: ConfigIssue[] = [];
  const list = known.join(", ");
  for (const [name, m] of Object.entries(options.models)) {
    if (!known.includes(name)) issues.push({ path: `models.${name}`, message: `unknown model "${name}" (models: ${list})` });
    m.dependsOn.forEach((d, i) => {
      if (!known.includes(d)) issues.push({ path: `models.${name}.dependsOn.${i}`, message: `unknown model "${d}" (models: ${list})` });
    });
  }
  if (issues.length) throw new CacheConfigError(issues);
}
