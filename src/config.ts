/**
 * Validation of `prismaCache(...)` options: the zod schema, the one
 * {@link DEFAULTS} object, and the resolved settings. The option types, with
 * their JSDoc and defaults, are in options.ts (spelled out rather than
 * inferred from zod, so that each option documents its default).
 * @module
 */
import { z } from "zod";
import { CacheConfigError, type ConfigIssue } from "./errors.js";
import { canonicalize } from "./keys.js";
import type { ScopeSource } from "./prisma/declare.js";
import type { CacheLogger, ChangeFeedOptions, L1Options, ModelCacheOptions, RedisClient, WarmStartOptions } from "./options.js";
import { isSupportedClient, SUPPORTED_CLIENTS } from "./redis/detect.js";

const seconds = (what: string) =>
  z
    .number({ error: `${what} must be a number of seconds` })
    .finite(`${what} must be finite`)
    .nonnegative(`${what} must be >= 0`);

const tagList = z.array(z.string().min(1, "a tag must be a non-empty string").max(200, "a tag must be at most 200 characters"), {
  error: "tags must be an array of strings",
});

const redisSchema = z.custom<RedisClient>((v) => isSupportedClient(v), { error: `redis must be ${SUPPORTED_CLIENTS}` });

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

/** `false`, or an l1 object whose bad fields are each named (a `z.union` alone would report only "l1"). */
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

const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;

/** A logger with the four methods; each missing one is named. */
const loggerField = z
  .unknown()
  .superRefine((v, ctx) => {
    if (typeof v !== "object" || v === null) {
      ctx.addIssue({ code: "custom", message: "logger must be an object with debug, info, warn and error methods (pino, winston and console have them)" });
      return;
    }
    for (const level of LOG_LEVELS) {
      if (typeof (v as Record<string, unknown>)[level] !== "function")
        ctx.addIssue({ code: "custom", path: [level], message: `logger.${level} must be a function` });
    }
  })
  .transform((v) => v as CacheLogger);

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
  heartbeat: z.number().int().min(20, "heartbeat must be >= 20 milliseconds").optional(),
  replicas: z.number().int().nonnegative("replicas must be an integer >= 0").optional(),
  rowLevel: z.boolean({ error: "rowLevel must be a boolean" }).optional(),
  maxRowDeps: z.number().int("maxRowDeps must be an integer").min(1, "maxRowDeps must be >= 1").max(10_000, "maxRowDeps must be <= 10000").optional(),
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
  logger: loggerField.optional(),
  audit: z
    .strictObject(
      {
        sampleRate: z
          .number({ error: "audit.sampleRate must be a number between 0 and 1" })
          .min(0, "audit.sampleRate must be between 0 and 1")
          .max(1, "audit.sampleRate must be between 0 and 1"),
        maxPerSecond: z.number({ error: "audit.maxPerSecond must be a number > 0" }).positive("audit.maxPerSecond must be > 0").optional(),
      },
      { error: "audit must be an object { sampleRate, maxPerSecond? }" },
    )
    .optional(),
  telemetry: z.boolean({ error: "telemetry must be a boolean" }).optional(),
  changeFeed: z
    .strictObject(
      {
        url: z
          .string({ error: "changeFeed.url must be a database URL (postgresql://, mysql://, mariadb:// or file:)" })
          .regex(/^(postgres(ql)?|mysql|mariadb|file):/, "changeFeed.url must start with postgresql://, mysql://, mariadb:// or file:"),
        slot: z
          .string()
          .regex(/^[a-z0-9_]{1,63}$/, "changeFeed.slot must be 1 to 63 lowercase letters, digits or _")
          .optional(),
        publication: z
          .string()
          .min(1, "changeFeed.publication must be a non-empty string")
          .max(63, "changeFeed.publication must be at most 63 characters")
          .optional(),
        create: z.boolean({ error: "changeFeed.create must be a boolean" }).optional(),
        lease: z.number().int().min(100, "changeFeed.lease must be >= 100 milliseconds").optional(),
        pollMs: z.number().int().min(1, "changeFeed.pollMs must be >= 1 millisecond").optional(),
      },
      { error: "changeFeed must be an object { url, slot?, publication?, create?, lease?, pollMs? }" },
    )
    .optional(),
  warm: z
    .strictObject(
      {
        top: z
          .number({ error: "warm.top must be an integer from 0 to 10000" })
          .int("warm.top must be an integer from 0 to 10000")
          .min(0, "warm.top must be an integer from 0 to 10000")
          .max(10_000, "warm.top must be an integer from 0 to 10000"),
        sampleEvery: z.number().int("warm.sampleEvery must be an integer >= 1").min(1, "warm.sampleEvery must be an integer >= 1").optional(),
        timeout: z.number().int("warm.timeout must be an integer").nonnegative("warm.timeout must be >= 0 milliseconds").optional(),
      },
      { error: "warm must be an object { top, sampleEvery?, timeout? }" },
    )
    .optional(),
});

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
  heartbeat: number;
  replicas: number;
  breaker: { failures: number; cooldown: number };
  rowLevel: boolean;
  maxRowDeps: number;
  scope: ScopeSource | undefined;
  logger: CacheLogger | undefined;
  /** Share of cache hits also read from the database and compared (0: the audit is off). */
  auditRate: number;
  /** Most audit reads per second. */
  auditMaxPerSecond: number;
  telemetry: boolean;
  /** Warm starts, with their defaults and the bound of the namespace's read counts (undefined: off). */
  warm: (Required<WarmStartOptions> & { maxMembers: number }) | undefined;
  /** The change feed, with its defaults (undefined: off). */
  changeFeed: (Required<Omit<ChangeFeedOptions, "slot" | "publication">> & { slot: string; publication: string }) | undefined;
}

/** Every default, in one place: the values the option docs (`@default`), docs/api.md and the README's options table state. */
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
  heartbeat: 1_000,
  replicas: 0,
  breaker: { failures: 5, cooldown: 5_000 },
  rowLevel: true,
  maxRowDeps: 100,
  /** `$cache.delivered(...)` timeout, in ms. */
  deliveredTimeout: 5_000,
  /** The staleness audit is off. */
  auditSampleRate: 0,
  /** Most audit reads per second and process. */
  auditMaxPerSecond: 10,
  /** OpenTelemetry is used when `@opentelemetry/api` is installed. */
  telemetry: true,
  /** The change feed's lease, in ms. */
  feedLease: 10_000,
  /** SQLite's `data_version` poll, in ms. */
  feedPollMs: 50,
  /** One cached read in this many is counted for warm starts. */
  warmSampleEvery: 16,
  /** Milliseconds `$cache.ready()` waits for a warm start's load. */
  warmTimeout: 5_000,
  /** The namespace's read counts keep this many members, or 10 × `warm.top` if more. */
  warmMinMembers: 1_000,
  /** `$cache.warm(reads)`: reads run at once. */
  warmConcurrency: 4,
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
    heartbeat: o.heartbeat ?? d.heartbeat,
    replicas: o.replicas ?? d.replicas,
    breaker: { failures: o.breaker?.failures ?? d.breaker.failures, cooldown: o.breaker?.cooldown ?? d.breaker.cooldown },
    rowLevel: o.rowLevel ?? d.rowLevel,
    maxRowDeps: o.maxRowDeps ?? d.maxRowDeps,
    scope: o.scope,
    logger: o.logger,
    auditRate: o.audit?.sampleRate ?? d.auditSampleRate,
    auditMaxPerSecond: o.audit?.maxPerSecond ?? d.auditMaxPerSecond,
    telemetry: o.telemetry ?? d.telemetry,
    warm: o.warm && {
      top: o.warm.top,
      sampleEvery: o.warm.sampleEvery ?? d.warmSampleEvery,
      timeout: o.warm.timeout ?? d.warmTimeout,
      maxMembers: Math.max(d.warmMinMembers, 10 * o.warm.top),
    },
    changeFeed: o.changeFeed && {
      url: o.changeFeed.url,
      slot: o.changeFeed.slot ?? feedName(o.namespace ?? d.namespace),
      publication: o.changeFeed.publication ?? feedName(o.namespace ?? d.namespace),
      create: o.changeFeed.create ?? true,
      lease: o.changeFeed.lease ?? d.feedLease,
      pollMs: o.changeFeed.pollMs ?? d.feedPollMs,
    },
  };
}

/** The default slot and publication name of a namespace: `ptc_<namespace>`, lowercase, non-word characters as `_`, at most 63 characters. */
export const feedName = (namespace: string): string => `ptc_${namespace.toLowerCase().replace(/[^a-z0-9_]/g, "_")}`.slice(0, 63);

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
