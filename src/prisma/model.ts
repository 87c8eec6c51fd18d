/**
 * The model component: the cached reads on every model. Each returns a lazy
 * PrismaPromise (`lazy.ts`) whose run asks the client's profile whether the
 * read may be cached, plans it, and hands the plan and its database query
 * (source.ts) to the runtime's read entry.
 * @module
 */
import { Bypass, IN_TRANSACTION } from "../engine/bypass.js";
import { type CacheExplanation, explainBypass } from "../engine/explain.js";
import { cacheInfo } from "../engine/info.js";
import { BASE_OPERATION, type ReadOperation } from "../engine/planner.js";
import { observe, type ReadPlan } from "../engine/request.js";
import type { CacheRuntime } from "../runtime.js";
import { extensionList, isTransactionClient } from "./internals.js";
import { addFluentFields, CachedQuery, type ExplainingRunner, FluentCachedQuery, type PrismaPromiseLike } from "./lazy.js";
import { CacheUsageError } from "../errors.js";
import type { KeyMemo } from "../engine/key-memo.js";
import { OpCounters, RAW_MODEL } from "../stats.js";
import type { ClientProfile, Profiler } from "./profile.js";
import { type ModelContext, modelLoad, runBeneath } from "./source.js";

/**
 * Decides, for a client that is not {@link ClientProfile.simple}, whether a
 * read through it is cached: returns its key prefix, or why not. Counts and
 * reports nothing (the read path and `$cache.explain` share it;
 * {@link reportBypass} counts).
 */
export function admission(profile: ClientProfile, model: string | undefined, operation: string, base: string): string | Bypass {
  if (profile.transaction) return IN_TRANSACTION;
  const label = model ?? RAW_MODEL;
  const opaque = profile.opaqueFor(model, operation) ?? (base !== operation ? profile.opaqueFor(model, base) : null);
  if (opaque !== null) {
    const detail = `${opaque} hooks ${label}.${operation} beneath the cache, so its results may vary in ways the cache cannot see; declare it with cacheScope(scope, extension) or cacheNeutral(extension), or set prismaCache({ scope })`;
    return new Bypass("query-extension", detail);
  }
  try {
    return profile.keyPrefix();
  } catch (error) {
    return new Bypass("scope-error", "a scope function threw; the read went to the database uncached", error);
  }
}

/**
 * Counts a read that is not cached, and reports it: a query extension once
 * per client, model and operation, a scope that threw each time.
 */
export function reportBypass(
  runtime: CacheRuntime,
  profile: ClientProfile,
  bypass: Bypass,
  model: string | undefined,
  operation: string,
  counters: OpCounters,
): void {
  runtime.stats.bypass(bypass.reason, counters);
  const { reason, detail, error } = bypass;
  const label = model ?? RAW_MODEL;
  if (reason === "query-extension" && profile.firstReport(`${label}.${operation}`))
    runtime.events.emit({ type: "bypass", reason, model: label, operation, detail });
  else if (reason === "scope-error") runtime.events.emit({ type: "bypass", reason, model: label, operation, detail, error });
}

/** A per-query option refused when the read was called: its error reaches the caller through the promise, like Prisma's. */
class RefusedOption {
  constructor(readonly error: CacheUsageError) {}
}

/**
 * Takes the per-query option out of a read's arguments: `cache`, or
 * Accelerate's `cacheStrategy` (an alias, then checked like `cache`). Both
 * at once, or a `cacheStrategy` that is not `{ ttl, swr, tags }`, is refused.
 */
function splitCacheOption(input: Record<string, unknown>, ctx: ModelContext, op: string): { cache: unknown; args: Record<string, unknown> } {
  const { cache, cacheStrategy, ...args } = input;
  if (!("cacheStrategy" in input)) return { cache, args };
  const refuse = (why: string) => ({ cache: new RefusedOption(new CacheUsageError(`${ctx.$name}.${op}({ cacheStrategy }): ${why}`)), args });
  if ("cache" in input) return refuse("pass either cache or cacheStrategy (its Accelerate alias), not both");
  if (typeof cacheStrategy !== "object" || cacheStrategy === null || Array.isArray(cacheStrategy))
    return refuse("cacheStrategy must be an object { ttl, swr, tags }");
  for (const k of Object.keys(cacheStrategy)) {
    if (k !== "ttl" && k !== "swr" && k !== "tags") return refuse(`unknown cacheStrategy option "${k}" (allowed: ttl, swr, tags)`);
  }
  return { cache: cacheStrategy, args };
}

/** What a model context holds for one operation called through it. */
interface OperationInfo {
  readonly counters: OpCounters;
  /** The key memo, when the client's key prefix is fixed. */
  readonly memo: KeyMemo | undefined;
}

/** What a model context is remembered with. */
interface ContextInfo {
  readonly profile: ClientProfile;
  readonly operations: Partial<Record<ReadOperation, OperationInfo>>;
}

export function createReadMethods(runtime: CacheRuntime, profiler: Profiler) {
  const methods = {} as Record<ReadOperation, (this: unknown, args?: Record<string, unknown>) => unknown>;
  for (const model of runtime.graph.models) addFluentFields(runtime.graph.relationFields(model));

  /**
   * The profile of the client a model context belongs to, and the counters of
   * its operations. Prisma hands out one context object per client and model,
   * so they are remembered per context (a lookup through Prisma's proxies
   * costs more than an L1 hit's budget).
   */
  const contexts = new WeakMap<object, ContextInfo>();
  const infoOf = (ctx: ModelContext): ContextInfo => {
    let p = contexts.get(ctx);
    if (p === undefined) {
      const client = ctx.$parent;
      const profile = isTransactionClient(client) ? profiler.transaction : profiler.ofList(extensionList(client));
      contexts.set(ctx, (p = { profile, operations: Object.create(null) as ContextInfo["operations"] }));
    }
    return p;
  };

  /**
   * Whether a read through a client with `profile` is cached, and its plan:
   * the client's admission, then the planner's. Counts and reports nothing
   * (execute does; explain shares it).
   */
  const decide = (
    profile: ClientProfile,
    q: CachedQuery<unknown>,
    model: string,
    op: ReadOperation,
    counters: OpCounters,
    memo: KeyMemo | undefined,
  ): ReadPlan | Bypass => {
    if (q.cache instanceof RefusedOption) throw q.cache.error;
    const prefix = profile.simple ? profile.prefix : admission(profile, model, op, BASE_OPERATION[op]);
    if (typeof prefix !== "string") return prefix;
    return runtime.planner.decide({ model, operation: op, args: q.args, cache: q.cache }, { prefix, counters, memo });
  };

  /** The key memo of a client's reads of `model` by `op`: clients keyed by a prefix alone (simple profiles) share one. */
  const keyMemo = (profile: ClientProfile, model: string, op: ReadOperation): KeyMemo | undefined =>
    profile.simple ? runtime.planner.memo(profile.prefix, model, op) : undefined;

  const runner: ExplainingRunner = {
    runtime,
    info: (outcome, value) => cacheInfo(runtime.planner, outcome, value, (key) => runtime.readPath.l1?.get(key)?.deps),
    direct: (q) => runBeneath(q.ctx as ModelContext, q.operation, q.args, methods[q.operation as ReadOperation]) as PrismaPromiseLike,
    execute(q, outcome): Promise<unknown> {
      const ctx = q.ctx as ModelContext;
      const op = q.operation as ReadOperation;
      const info = infoOf(ctx);
      // An L1 hit of arguments seen before is served before any plan is built.
      const known = info.operations[op];
      if (known?.memo !== undefined && outcome === undefined && q.cache === undefined && (runtime.hot === undefined || !info.profile.bare)) {
        const hit = runtime.readPath.hitByArgs(known.memo, q.args, known.counters, BASE_OPERATION[op] !== op);
        if (hit !== undefined) return hit;
      }
      const base = BASE_OPERATION[op];
      const { profile } = info;
      // A warm start's rehearsal (engine/hot.ts) takes the path of an L1 hit, and is counted nowhere: counters of its own (as explain's), no read count, no audit.
      const rehearsal = runtime.readPath.rehearsal.active();
      const { counters, memo } = rehearsal
        ? { counters: new OpCounters(ctx.$name, op), memo: keyMemo(profile, ctx.$name, op) }
        : (info.operations[op] ??= { counters: runtime.stats.of(ctx.$name, op), memo: keyMemo(profile, ctx.$name, op) });
      const plan = decide(profile, q, ctx.$name, op, counters, memo);
      if (plan instanceof Bypass) {
        if (rehearsal) return Promise.resolve(undefined);
        reportBypass(runtime, profile, plan, ctx.$name, op, counters);
        return Promise.resolve(runner.direct(q));
      }
      const load = modelLoad(ctx, base, q.args, methods[base]);
      if (rehearsal) {
        // From L1 only: never Redis, never the database.
        const { readPath } = runtime;
        return readPath.uncounted(() =>
          readPath.peek(plan.l1Key) === undefined ? Promise.resolve(undefined) : runtime.read(plan, load, profile.scoped, outcome),
        );
      }
      // Warm starts count the reads of bare clients (keyed by the read alone), one in `warm.sampleEvery`.
      if (runtime.hot !== undefined && profile.bare) runtime.hot.sample(plan, q.cache);
      const read = runtime.read(plan, load, profile.scoped, outcome);
      // *OrThrow shares its base operation's entry; on "not found" Prisma itself raises its own error.
      if (base === op) return read;
      return read.then((value) => {
        if (value !== null) return value;
        // The database answers (and Prisma raises its own error): not a cached answer.
        if (outcome) observe(outcome, "bypass", undefined);
        return runner.direct(q);
      });
    },
    explain(q): Promise<CacheExplanation> {
      const ctx = q.ctx as ModelContext;
      const op = q.operation as ReadOperation;
      const { profile } = infoOf(ctx);
      // Counters of its own: an explanation counts nothing, and adds no model to stats().byModel.
      const plan = decide(profile, q, ctx.$name, op, new OpCounters(ctx.$name, op), undefined);
      return plan instanceof Bypass ? Promise.resolve(explainBypass(plan)) : runtime.explain(plan, profile.scoped);
    },
  };

  for (const op of Object.keys(BASE_OPERATION) as ReadOperation[]) {
    const isFluent = op !== "findMany" && op.startsWith("find");
    methods[op] = function (this: unknown, input?: Record<string, unknown>) {
      let cache: unknown;
      let args = input;
      if (input != null && ("cache" in input || "cacheStrategy" in input)) ({ cache, args } = splitCacheOption(input, this as ModelContext, op));
      return isFluent ? new FluentCachedQuery(runner, this, op, args, cache) : new CachedQuery(runner, this, op, args, cache);
    };
  }
  return methods;
}
