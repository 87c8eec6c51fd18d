/**
 * The model component: the cached reads on every model. Each returns a lazy
 * PrismaPromise (`lazy.ts`) whose run asks the client's profile whether the
 * read may be cached, plans it, and hands it to the runtime's read path.
 * @module
 */
import { PLAIN_OPERATION, type ReadOperation } from "../engine/planner.js";
import type { CacheRuntime } from "../runtime.js";
import { extensionList, isTransactionClient } from "./internals.js";
import { CachedQuery, fluentClass, type PrismaPromiseLike, type QueryRunner } from "./lazy.js";
import type { ClientProfile, Profiler } from "./profile.js";

/** What the cache reads off Prisma's model context (`this` inside a model method). */
export interface ModelContext {
  readonly $name: string;
  readonly $parent: ClientLike;
}

type Method = (args?: unknown) => PromiseLike<unknown> & Record<string, unknown>;
export type ClientLike = { [key: string | symbol]: unknown; $parent?: ClientLike };

const lowerFirst = (s: string): string => s.charAt(0).toLowerCase() + s.slice(1);

/**
 * Decides, for a client that is not plain, whether a read through it is
 * cached: returns its key prefix, or undefined after counting the bypass (and
 * reporting it once per client, model and operation).
 */
export function admit(runtime: CacheRuntime, profile: ClientProfile, model: string | undefined, operation: string, plain: string): string | undefined {
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
    runtime.emit({
      type: "bypass",
      reason: "scope-error",
      model: label,
      operation,
      detail: "a scope function threw; the read went to the database uncached",
      error,
    });
    return undefined;
  }
}

export function createReadMethods(runtime: CacheRuntime, profiler: Profiler) {
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
      const request = runtime.planner.plan(ctx.$name, op, q.args, q.cache, prefix);
      if (!request) return Promise.resolve(runner.direct(q));
      const hit = runtime.stack.peek(request.l1Key);
      if (hit && !hit.refresh) return Promise.resolve(hit.value === null && plain !== op ? runner.direct(q) : hit.value);
      const load = (): Promise<unknown> => Promise.resolve(beneath(ctx, plain)[plain]!(q.args));
      // *OrThrow shares the plain entry; on "not found" Prisma itself raises its own error.
      const found = (value: unknown): unknown => (value === null && plain !== op ? runner.direct(q) : value);
      if (!hit) return plain === op ? runtime.read(request, load, profile.scoped) : runtime.read(request, load, profile.scoped).then(found);
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
