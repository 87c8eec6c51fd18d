/**
 * Prisma glue: `prismaCache(options)` returns a Prisma extension whose model
 * component answers cached reads, whose query component bumps versions after
 * writes, and whose client component exposes `$cache`.
 * @module
 */
import { Prisma, type PrismaClientExtends } from "@prisma/client/extension";
import type { Types } from "@prisma/client/runtime/client";
import type { Sql } from "@prisma/client/runtime/client";
import { DEFAULTS, resolveOptions, type CacheOptions, type QueryCacheOption, type RawCacheOptions } from "./config.js";
import { WRITE_OPERATIONS } from "./deps/writes.js";
import type { BumpId } from "./coherence/bus.js";
import { CachedQuery, fluentClass, type PrismaPromiseLike, type QueryRunner } from "./lazy.js";
import { DatabaseIdentity } from "./identity.js";
import { canonicalize } from "./keys.js";
import { CacheConfigError, type BusDeliveryError } from "./errors.js";
import {
  activeProvider,
  builtinMethod,
  extensionHead,
  extensionList,
  globalOmit,
  inlineSchema,
  isTransactionClient,
  probeInternals,
  runtimeDataModel,
  transactionId,
  type InternalParams,
  type MissingInternal,
} from "./prisma/internals.js";
import { markCacheLayer, Profiler, type ClientProfile } from "./prisma/profile.js";
import { CacheRuntime, PLAIN_OPERATION, type ReadOperation } from "./runtime.js";
import type { CacheEvent, ReadRequest } from "./tiers/stack.js";
import type { CacheStats } from "./telemetry.js";

/** The per-query option added to every cached read's arguments. */
export interface CacheArgs {
  /**
   * `false` bypasses the cache for this call; an object overrides ttl/swr, adds tags, or sets a key.
   * @default undefined (the model's and global settings apply)
   */
  cache?: QueryCacheOption;
}

type FluentOperation = "findUnique" | "findUniqueOrThrow" | "findFirst" | "findFirstOrThrow";
type RelationNames<T> = T extends { [K: symbol]: { types: { payload: { objects: infer O } } } } ? keyof O : never;
type RelationSelect<T, Op extends FluentOperation, K> = NonNullable<NonNullable<Prisma.Args<T, Op>>["select"]> extends infer S
  ? K extends keyof S
    ? S[K]
    : never
  : never;

/**
 * Prisma's fluent API on a cached `findUnique`/`findFirst` (and `OrThrow`):
 * `prisma.user.findUnique(...).posts()`. Fluent calls go to the database.
 */
export type CachedFluentApi<T, Op extends FluentOperation> = {
  [K in RelationNames<T>]: <A>(
    args?: Prisma.Exact<A, RelationSelect<T, Op, K>>,
  ) => Prisma.PrismaPromise<
    | (K extends keyof NonNullable<Prisma.Result<T, { select: { [Q in K]: A } }, Op>>
        ? NonNullable<Prisma.Result<T, { select: { [Q in K]: A } }, Op>>[K]
        : never)
    | (Op extends "findUnique" | "findFirst" ? null : never)
  >;
};

/** What a cached `findUnique`/`findFirst` (and `OrThrow`) returns: a PrismaPromise with the fluent API. */
export type CachedFluentResult<T, A, Op extends FluentOperation> = Prisma.PrismaPromise<Prisma.Result<T, A, Op>> & CachedFluentApi<T, Op>;

/**
 * The cached reads the extension adds to every model. Each accepts Prisma's own
 * arguments plus `cache`, and returns what Prisma returns.
 */
export interface CachedReadMethods {
  findUnique<T, A>(this: T, args: Prisma.Exact<A, Prisma.Args<T, "findUnique"> & CacheArgs>): CachedFluentResult<T, A, "findUnique">;
  findUniqueOrThrow<T, A>(this: T, args: Prisma.Exact<A, Prisma.Args<T, "findUniqueOrThrow"> & CacheArgs>): CachedFluentResult<T, A, "findUniqueOrThrow">;
  findFirst<T, A>(this: T, args?: Prisma.Exact<A, Prisma.Args<T, "findFirst"> & CacheArgs>): CachedFluentResult<T, A, "findFirst">;
  findFirstOrThrow<T, A>(this: T, args?: Prisma.Exact<A, Prisma.Args<T, "findFirstOrThrow"> & CacheArgs>): CachedFluentResult<T, A, "findFirstOrThrow">;
  findMany<T, A>(this: T, args?: Prisma.Exact<A, Prisma.Args<T, "findMany"> & CacheArgs>): Prisma.PrismaPromise<Prisma.Result<T, A, "findMany">>;
  count<T, A>(this: T, args?: Prisma.Exact<A, Prisma.Args<T, "count"> & CacheArgs>): Prisma.PrismaPromise<Prisma.Result<T, A, "count">>;
  aggregate<T, A>(this: T, args: Prisma.Exact<A, Prisma.Args<T, "aggregate"> & CacheArgs>): Prisma.PrismaPromise<Prisma.Result<T, A, "aggregate">>;
  groupBy<T, A>(this: T, args: Prisma.Exact<A, Prisma.Args<T, "groupBy"> & CacheArgs>): Prisma.PrismaPromise<Prisma.Result<T, A, "groupBy">>;
}

/** What `prismaCache(...)` returns: pass it to `prisma.$extends(...)`. */
export type CacheExtension = (
  client: unknown,
) => PrismaClientExtends<
  Types.Extensions.InternalArgs<{}, { $allModels: CachedReadMethods }, {}, { $cache: CacheClientApi; $queryRawCached: RawQueryMethod }> & Types.Extensions.DefaultArgs
>;

/**
 * `prisma.$queryRawCached<T>(Prisma.sql\`...\`, { models, tags, ttl, key })`: a cached
 * `$queryRaw`. Declare the models it reads so writes to them invalidate it.
 * Inside an interactive transaction it runs uncached.
 */
export type RawQueryMethod = <T = unknown>(sql: Sql, options: RawCacheOptions) => Promise<T>;

/** `prisma.$cache`: invalidation and statistics. */
export interface CacheClientApi {
  /** Makes every cached read that depends on one of these models or tags stale, in every process sharing the Redis. */
  invalidate(target: { models?: string[]; tags?: string[] }): Promise<void>;
  /** Makes every cached entry of the namespace stale. */
  invalidateAll(): Promise<void>;
  /** Counters since creation or the last `resetStats()`. */
  stats(): CacheStats;
  /** Sets every counter back to 0. */
  resetStats(): void;
  /**
   * Resolves once this process listens to other processes' bumps (with Redis),
   * or at once without Redis. Reads work before; L1 is flushed when it happens.
   */
  ready(): Promise<void>;
  /**
   * The last bump this process published on the bus, as `{ instance, seq }`,
   * or undefined (none yet, or no Redis). Pass it to another process's
   * `delivered(...)` to wait until that process has applied it.
   */
  lastPublished(): BumpId | undefined;
  /**
   * Resolves once this process has applied the bump `from` (or a later one of
   * the same sender) to its L1. Rejects with a {@link BusDeliveryError} on
   * timeout (`timeoutMs`, default 5000) or when the cache is closed.
   */
  delivered(from: BumpId, options?: { timeoutMs?: number }): Promise<void>;
  /** Closes the connections the cache opened. Also done by `prisma.$disconnect()`. */
  close(): Promise<void>;
  /**
   * Listens to cache events: `grace` (a cached value was served because the
   * database query failed; `error` is Prisma's error), `refreshed` and
   * `refresh-error` (a background refresh stored a new value, or failed), `lease-wait` (a miss waits for another
   * process's regeneration lease) and `lease-timeout` (it stopped waiting and
   * queried itself). Returns a function that removes the listener.
   */
  on(listener: (event: CacheEvent) => void): () => void;
}


/** What the cache reads off Prisma's model context (`this` inside a model method). */
interface ModelContext {
  readonly $name: string;
  readonly $parent: ClientLike;
}

type Method = (args?: unknown) => PromiseLike<unknown> & Record<string, unknown>;
type ClientLike = { [key: string | symbol]: unknown; $parent?: ClientLike };

const lowerFirst = (s: string): string => s.charAt(0).toLowerCase() + s.slice(1);

/**
 * Decides, for a client that is not plain, whether a read through it is
 * cached: returns its key prefix, or undefined after counting the bypass (and
 * reporting it once per client, model and operation).
 */
function admit(runtime: CacheRuntime, profile: ClientProfile, model: string | undefined, operation: string, plain: string): string | undefined {
  if (profile.transaction) {
    runtime.bypass("transaction");
    return undefined;
  }
  const label = model ?? "$queryRawCached";
  const opaque = profile.opaqueFor(model, operation) ?? (plain !== operation ? profile.opaqueFor(model, plain) : null);
  if (opaque !== null) {
    runtime.bypass("query-extension");
    if (profile.firstReport(`${label}.${operation}`)) {
      const detail = `${opaque} hooks ${label}.${operation} beneath the cache, so its results may vary in ways the cache cannot see; declare it with cacheScope(scope, extension) or cacheNeutral(extension), or set prismaCache({ scope })`;
      runtime.emit({ type: "bypass", reason: "query-extension", model: label, operation, detail });
    }
    return undefined;
  }
  try {
    return profile.keyPrefix();
  } catch (error) {
    runtime.bypass("scope-error");
    runtime.emit({ type: "bypass", reason: "scope-error", model: label, operation, detail: "a scope function threw; the read went to the database uncached", error });
    return undefined;
  }
}

function createReadMethods(runtime: CacheRuntime, profiler: Profiler) {
  const methods = {} as Record<ReadOperation, (this: unknown, args?: Record<string, unknown>) => unknown>;
  const fluentClasses = new Map<string, typeof CachedQuery>();

  /** The model delegate beneath this cache layer, found by skipping layers whose method is ours. */
  const beneath = (ctx: ModelContext, op: string): Record<string, Method> => {
    const prop = lowerFirst(ctx.$name);
    let client = ctx.$parent;
    for (let i = 0; i < 32 && (client[prop] as Record<string, unknown> | undefined)?.[op] === methods[op as ReadOperation]; i++) {
      const next = client.$parent;
      if (!next || next === client) break;
      client = next;
    }
    return client[prop] as Record<string, Method>;
  };

  /**
   * The profile of the client a model context belongs to. Prisma hands out one
   * context object per client and model, so it is remembered per context (a
   * lookup through Prisma's proxies costs more than an L1 hit's budget).
   */
  const contexts = new WeakMap<object, ClientProfile>();
  const profileOf = (ctx: ModelContext): ClientProfile => {
    let p = contexts.get(ctx);
    if (p === undefined) {
      const client = ctx.$parent;
      p = isTransactionClient(client) ? profiler.transaction : profiler.ofList(extensionList(client));
      contexts.set(ctx, p);
    }
    return p;
  };

  const runner: QueryRunner = {
    direct: (q) => beneath(q.ctx as ModelContext, q.operation)[q.operation]!(q.args) as PrismaPromiseLike,
    execute(q): Promise<unknown> {
      const ctx = q.ctx as ModelContext;
      const op = q.operation as ReadOperation;
      const plain = PLAIN_OPERATION[op];
      const profile = profileOf(ctx);
      const prefix = profile.simple ? profile.prefix : admit(runtime, profile, ctx.$name, op, plain);
      if (prefix === undefined) return Promise.resolve(runner.direct(q));
      const request = runtime.plan(ctx.$name, op, q.args, q.cache, prefix);
      if (!request) return Promise.resolve(runner.direct(q));
      const hit = runtime.stack.peek(request.l1Key);
      if (hit && !hit.refresh) return Promise.resolve(hit.value === null && plain !== op ? runner.direct(q) : hit.value);
      const load = (): Promise<unknown> => Promise.resolve(beneath(ctx, plain)[plain]!(q.args));
      // *OrThrow shares the plain entry; on "not found" Prisma itself raises its own error.
      const found = (value: unknown): unknown => (value === null && plain !== op ? runner.direct(q) : value);
      if (!hit) return plain === op ? runtime.read(request, load) : runtime.read(request, load).then(found);
      runtime.stack.refresh(request, load);
      return Promise.resolve(found(hit.value));
    },
  };

  for (const op of Object.keys(PLAIN_OPERATION) as ReadOperation[]) {
    const isFluent = op !== "findMany" && op.startsWith("find");
    methods[op] = function (this: unknown, input?: Record<string, unknown>) {
      let cache: unknown;
      let args = input;
      if (input != null && "cache" in input) ({ cache, ...args } = input);
      if (!isFluent) return new CachedQuery(runner, this, op, args, cache);
      const model = (this as ModelContext).$name;
      let C = fluentClasses.get(model);
      if (!C) fluentClasses.set(model, (C = fluentClass(runtime.graph.relationFields(model))));
      return new C(runner, this, op, args, cache);
    };
  }
  return methods;
}

type WriteParams = {
  model?: string;
  operation: string;
  args: Record<string, unknown> | undefined;
  query: (args: unknown) => PromiseLike<unknown>;
  __internalParams?: InternalParams;
};

/** The SQL text of `$executeRaw` (a `Sql` object) or `$executeRawUnsafe` (`[text, ...values]`) arguments. */
function sqlText(args: unknown): string {
  if (Array.isArray(args)) return typeof args[0] === "string" ? args[0] : "";
  const strings = (args as { strings?: unknown } | null)?.strings;
  return Array.isArray(strings) ? strings.join("$0") : "";
}

function createExtension(runtime: CacheRuntime, base: unknown, missing: readonly MissingInternal[]) {
  const $transaction = builtinMethod(base, "$transaction");
  const $disconnect = builtinMethod(base, "$disconnect");
  const blind = missing.find((m) => m.name === "_extensions" || m.name === "_globalOmit");
  const profiler = new Profiler(extensionHead(base), runtime.options.scope, blind && `Prisma internal ${blind.name} (missing in this Prisma version)`);
  /**
   * Whether no client of this cache (the one it was applied to, and each one
   * derived from it with `$extends`) has anything beneath the cache that
   * changes results. A write hook cannot tell which client wrote, so
   * write-through stops for good once one such client exists.
   */
  let everyClientPlain = true;
  const read = createReadMethods(runtime, profiler);
  const api: CacheClientApi = {
    invalidate: (target) => runtime.invalidate(target),
    invalidateAll: () => runtime.invalidateAll(),
    stats: () => runtime.stats.snapshot(),
    resetStats: () => runtime.stats.reset(),
    ready: () => runtime.ready,
    lastPublished: () => {
      const bus = runtime.bus;
      return bus && bus.lastSeq > 0 ? { instance: bus.instanceId, seq: bus.lastSeq } : undefined;
    },
    delivered: (from, options) =>
      runtime.bus ? runtime.bus.delivered(from.instance, from.seq, { timeoutMs: options?.timeoutMs ?? DEFAULTS.deliveredTimeout }) : Promise.resolve(),
    close: () => runtime.close(),
    on: (listener) => runtime.on(listener),
  };
  /** Dependencies written inside each open interactive transaction, by transaction id. */
  const openTransactions = new Map<unknown, Set<string>>();

  /**
   * Runs a write, then bumps what it changed (`after`, from its arguments and
   * result) before the write resolves. Inside an interactive transaction it
   * bumps `before` first (pre-invalidation) and `after` again at commit (see
   * `$transaction` below).
   */
  const write = async (
    params: WriteParams,
    before: () => readonly string[],
    after: (result: unknown) => readonly string[],
    writeThrough?: (result: unknown) => ReadRequest | undefined,
  ): Promise<unknown> => {
    const tx = params.__internalParams?.transaction;
    const pending = tx?.kind === "itx" ? openTransactions.get(tx.id) : undefined;
    if (pending) {
      const early = before();
      for (const d of early) pending.add(d);
      await runtime.stack.bump(early);
      const result = await params.query(params.args);
      for (const d of after(result)) pending.add(d);
      return result;
    }
    const result = await params.query(params.args);
    // Only while every client of this cache is plain does a write's result equal what a plain read of the row returns.
    const store = writeThrough && everyClientPlain ? writeThrough(result) : undefined;
    if (store) await runtime.stack.bumpAndStore(after(result), store, result);
    else await runtime.stack.bump(after(result));
    return result;
  };

  const client: Record<string, unknown> = {
    /** Invalidation and statistics of the tiered cache. */
    $cache: api,
    $queryRawCached(this: ClientLike, sql: Sql, options: RawCacheOptions): Promise<unknown> {
      const run = () => Promise.resolve((this.$queryRaw as (s: Sql) => PromiseLike<unknown>)(sql));
      try {
        const profile = isTransactionClient(this) ? profiler.transaction : profiler.ofList(extensionList(this));
        const prefix = profile.simple ? profile.prefix : admit(runtime, profile, undefined, "$queryRaw", "$queryRaw");
        if (prefix === undefined) return run();
        const request = runtime.planRaw(sql, options, prefix);
        if (!request) return run();
        const hit = runtime.stack.peek(request.l1Key);
        if (hit?.refresh) runtime.stack.refresh(request, run);
        return hit ? Promise.resolve(hit.value) : runtime.read(request, run);
      } catch (err) {
        return Promise.reject(err);
      }
    },
  };
  if ($disconnect) {
    /** Prisma's `$disconnect`, after closing the cache's own connections. */
    client.$disconnect = async function (this: unknown) {
      await runtime.close();
      return $disconnect.call(this, undefined);
    };
  }
  if ($transaction) {
    /** Prisma's `$transaction`, plus a version bump after an interactive transaction commits. */
    client.$transaction = function (this: unknown, arg: unknown, options?: unknown) {
      if (typeof arg !== "function") return $transaction.call(this, arg, options);
      const written = new Set<string>();
      let id: unknown;
      const body = (tx: unknown) => {
        id = transactionId(tx);
        const outer = openTransactions.get(id);
        if (outer) return (arg as (t: unknown) => unknown)(tx); // nested: the outermost bumps at commit
        openTransactions.set(id, written);
        return (arg as (t: unknown) => unknown)(tx);
      };
      return (async () => {
        try {
          return await $transaction.call(this, body, options);
        } finally {
          if (openTransactions.get(id) === written) {
            openTransactions.delete(id);
            await runtime.stack.bump([...written]);
          }
        }
      })();
    };
  }

  const extension = {
    name: "prisma-tiered-cache",
    model: {
      $allModels: read as unknown as CachedReadMethods,
    },
    query: {
      $allModels: {
        $allOperations(params: WriteParams) {
          const { model, operation, args } = params;
          if (model === undefined || !WRITE_OPERATIONS.has(operation)) return params.query(args);
          return write(
            params,
            () => runtime.writeDepsBefore(model, operation, args),
            (result) => runtime.writeDeps(model, operation, args, result),
            (result) => runtime.writeThrough(model, operation, args, result),
          );
        },
      },
      $executeRaw(params: WriteParams) {
        const deps = () => runtime.rawWriteDeps(sqlText(params.args));
        return write(params, deps, deps);
      },
      $executeRawUnsafe(params: WriteParams) {
        const deps = () => runtime.rawWriteDeps(sqlText(params.args));
        return write(params, deps, deps);
      },
    },
    client: client as { $cache: CacheClientApi; $queryRawCached: RawQueryMethod },
  };
  markCacheLayer(extension);
  /** Called with the cache's first client and each client derived from it. */
  const onClient = (client: unknown): void => {
    if (everyClientPlain && !profiler.ofList(extensionList(client)).plain) everyClientPlain = false;
  };
  return { extension, onClient };
}

type Extendable = { $extends: (ext: unknown) => unknown };

/**
 * Keeps the cache the outermost layer of `extended` (= `base` + cache):
 * extensions chained after it are applied beneath it, so their query hooks
 * and computed fields run on cache misses and are part of what is cached.
 */
function keepOutermost(extended: Extendable, base: Extendable, extension: object, onClient: (client: Extendable) => void): void {
  onClient(extended);
  extended.$extends = (next: unknown) => {
    const below = base.$extends(next) as Extendable;
    const again = below.$extends(extension) as Extendable;
    keepOutermost(again, below, extension, onClient);
    return again;
  };
}

/**
 * Creates the tiered cache extension. Options are validated here, once.
 *
 * @example
 * const prisma = new PrismaClient({ adapter }).$extends(prismaCache({ redis: new Redis(url), ttl: 60 }));
 * await prisma.post.findMany({ where: { published: true }, cache: { ttl: 10, tags: ["feed"] } });
 * await prisma.$cache.invalidate({ tags: ["feed"] });
 *
 * @throws {CacheConfigError} listing every invalid option.
 */
export function prismaCache(options: CacheOptions = {}): CacheExtension {
  const resolved = resolveOptions(options);
  const extension = Prisma.defineExtension((client) => {
    const missing = probeInternals(client);
    const required = missing.filter((m) => m.effect.startsWith("required"));
    if (required.length) throw new CacheConfigError(required.map((m) => ({ path: "(client)", message: `Prisma internal ${m.name} is missing: ${m.effect}` })));
    const dataModel = runtimeDataModel(client)!;
    // With Redis, entries are keyed by the database they were read from (see identity.ts).
    let report: (error: unknown) => void = () => undefined;
    const identity = resolved.redis
      ? new DatabaseIdentity(
          activeProvider(client),
          (sql) => (client as unknown as { $queryRawUnsafe(q: string): Promise<unknown> }).$queryRawUnsafe(`/* prisma-tiered-cache: database fingerprint */ ${sql}`),
          (error) => report(error),
        )
      : undefined;
    const runtime = new CacheRuntime(resolved, dataModel, inlineSchema(client), canonicalize(globalOmit(client) ?? null), identity);
    report = (error) => runtime.emit({ type: "fingerprint-error", error });
    const { extension, onClient } = createExtension(runtime, client, missing);
    const extended = client.$extends(extension);
    keepOutermost(extended as unknown as Extendable, client as unknown as Extendable, extension, onClient);
    return extended;
  });
  return extension as unknown as CacheExtension;
}
