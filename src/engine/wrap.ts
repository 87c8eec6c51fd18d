/**
 * `prisma.$cache.wrap(fn, options)`: a function whose results are cached like
 * reads. Each call becomes a read plan, keyed by the function's identity and
 * its arguments (or the caller's `key`), depending on the models and tags it
 * declares, as a `$queryRawCached` read does (Planner.declared). The read
 * path then runs it whole: L1, swr and early refresh, single-flight, L2 with
 * the lease, the function on a miss, grace if it fails, and the
 * compare-and-set fill against the declared versions. The staleness audit
 * leaves it alone: its load is the app's function, not a database read.
 * @module
 */
import { encode } from "../codec.js";
import type { ResolvedOptions } from "../config.js";
import { CacheUsageError } from "../errors.js";
import { canonicalHasher, canonicalize } from "../keys.js";
import type { WrapOptions } from "../options.js";
import type { OpCounters, Stats } from "../stats.js";
import { KeyMemo } from "./key-memo.js";
import { checkQueryOption, type Planner } from "./planner.js";
import type { ReadPath } from "./read-path.js";
import type { ReadPlan } from "./request.js";

/** The model `stats().byModel` files wrapped functions under (their operation is the function's name). */
export const WRAP_MODEL = "$cache.wrap";

/** What wrapped functions run on: one cache's options, planner, stats and read path. */
export interface WrapContext {
  readonly options: ResolvedOptions;
  readonly planner: Planner;
  readonly stats: Stats;
  readonly readPath: ReadPath;
}

const OPTION_NAMES = ["name", "key", "models", "tags", "ttl", "swr"];

/** Hashes a function's identity (its name option, name and source) into the text its keys start with. */
const hashIdentity = canonicalHasher("prisma-tiered-cache", "wrap");

/** The source text of bound and native functions: the same for all of them. */
const NATIVE = /\{\s*\[native code\]\s*\}\s*$/;

/** Function objects wrapped without a `name`, by identity, per cache: another object with the same identity is refused. */
const unnamed = new WeakMap<WrapContext, Map<string, object>>();

const describe = (v: unknown): string => (v === null ? "null" : Array.isArray(v) ? "an array" : typeof v === "string" ? JSON.stringify(v) : typeof v);

/**
 * The identity of `fn`, the same in every process running the same code:
 * the hash of `name` (when given), `fn.name` and its source text.
 * @throws {CacheUsageError} for a bound or native function without `name`,
 *   and for a second function object with the same identity in this cache.
 */
function identify(ctx: WrapContext, fn: object, fnName: string, name: string | undefined, where: string): string {
  const source = Function.prototype.toString.call(fn);
  if (name === undefined && NATIVE.test(source)) {
    throw new CacheUsageError(`${where}: fn is a bound or native function, whose source text does not tell it apart from others; pass options.name`);
  }
  const identity = hashIdentity(canonicalize([name ?? null, fnName, source]));
  if (name !== undefined) return identity;
  let seen = unnamed.get(ctx);
  if (seen === undefined) unnamed.set(ctx, (seen = new Map()));
  const first = seen.get(identity);
  if (first === undefined) seen.set(identity, fn);
  else if (first !== fn) {
    throw new CacheUsageError(
      `${where}: another function with the same name and source is wrapped by this cache already (closures made by one factory, or a function wrapped again): ` +
        "they would share entries though what they capture may differ; wrap it once, or give each its own options.name",
    );
  }
  return identity;
}

/** Makes the L1 key of a call from its arguments: `head`, then the canonical arguments or the caller's key, then `tail`. */
function keyMaker<A extends unknown[]>(where: string, head: string, tail: string, key: WrapOptions<A>["key"]): (args: A) => string {
  if (typeof key === "string") {
    const fixed = `${head}k|${JSON.stringify(key)}${tail}`;
    return () => fixed;
  }
  if (typeof key === "function") {
    return (args) => {
      const k: unknown = key(...args);
      if (typeof k !== "string" || k === "") throw new CacheUsageError(`${where}: options.key(...args) must return a non-empty string, got ${describe(k)}`);
      return `${head}k|${JSON.stringify(k)}${tail}`;
    };
  }
  // Arguments seen before find their key without building it again (an L1 hit's main cost).
  const memo = new KeyMemo();
  return (args) => {
    const hash = memo.hash(args);
    if (hash !== -1) {
      const known = memo.get(hash, args);
      if (known !== undefined) return known;
    }
    let text: string;
    try {
      text = canonicalize(args);
    } catch (error) {
      throw new CacheUsageError(`${where}: the arguments have no canonical form (${(error as Error).message}); pass options.key`);
    }
    const k = `${head}${text}${tail}`;
    if (hash !== -1) memo.remember(hash, args, k);
    return k;
  };
}

/** Calls `fn`, a synchronous throw arriving as a rejection. */
function invoke<A extends unknown[], R>(fn: (...args: A) => Promise<R>, self: unknown, args: A): Promise<R> {
  try {
    return Promise.resolve(fn.apply(self, args));
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * Wraps `fn`: see {@link WrapOptions}. Options are checked here, once.
 * @throws {CacheUsageError} naming the bad option or argument.
 */
export function wrapFunction<A extends unknown[], R>(
  ctx: WrapContext,
  fn: (...args: A) => Promise<R>,
  options: WrapOptions<A> = {},
): (...args: A) => Promise<R> {
  if (typeof fn !== "function") throw new CacheUsageError(`$cache.wrap(fn, options): fn must be a function, got ${describe(fn)}`);
  const fnName = typeof fn.name === "string" ? fn.name : "";
  const where = `$cache.wrap(${fnName || "fn"}, options)`;
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    throw new CacheUsageError(`${where}: options must be an object { name, key, models, tags, ttl, swr }, got ${describe(options)}`);
  }
  for (const k of Object.keys(options)) {
    if (!OPTION_NAMES.includes(k)) throw new CacheUsageError(`${where}: unknown option "${k}" (allowed: ${OPTION_NAMES.join(", ")})`);
  }
  const { name, key, models = [], tags, ttl, swr } = options;
  if (name !== undefined && (typeof name !== "string" || name === "")) throw new CacheUsageError(`${where}: name must be a non-empty string`);
  if (key !== undefined && typeof key !== "function" && (typeof key !== "string" || key === "")) {
    throw new CacheUsageError(`${where}: key must be a non-empty string, or a function of the arguments returning one`);
  }
  checkQueryOption({ ttl, swr, tags }, () => where);
  const declared = ctx.planner.declared(where, models, tags);
  const identity = identify(ctx, fn, fnName, name, where);

  const seconds = ttl ?? ctx.options.ttl;
  const cached = seconds > 0;
  const ttlMs = seconds * 1000;
  const swrMs = (swr ?? ctx.options.swr) * 1000;
  const graceMs = ctx.options.grace * 1000;
  const deps = declared.deps;
  // Declared models and tags are part of the key, as for a cached raw read: its dependencies follow from the key.
  const keyOf = keyMaker(where, `$fn|${identity}|`, `|${declared.key}`, key);
  const label = name ?? (fnName || "anonymous");
  let counters: OpCounters | undefined;
  const countersOf = (): OpCounters => (counters ??= ctx.stats.of(WRAP_MODEL, label));
  const { readPath, stats } = ctx;
  /** A result that cannot be stored is the app's mistake: said at once, not as a failed fill. */
  const storable = (value: R): R => {
    try {
      encode(value);
    } catch (error) {
      throw new CacheUsageError(
        `${where}: the result cannot be cached (${(error as Error).message}); return plain objects, arrays, primitives, Dates, bigints, Decimals or bytes`,
      );
    }
    return value;
  };

  const wrapped = function (this: unknown, ...args: A): Promise<R> {
    if (!cached) {
      stats.bypass("no-ttl", countersOf());
      return invoke(fn, this, args);
    }
    let l1Key: string;
    try {
      l1Key = keyOf(args);
    } catch (error) {
      return Promise.reject(error);
    }
    const plan: ReadPlan = {
      l1Key,
      ttlMs,
      swrMs,
      graceMs,
      model: undefined,
      args: undefined,
      tags,
      rowLookup: false,
      operation: undefined,
      memoizable: true,
      declared: deps,
      counters: counters ?? countersOf(),
    };
    return readPath.runUnaudited(plan, () => invoke(fn, this, args).then(storable)) as Promise<R>;
  };
  Object.defineProperty(wrapped, "name", { value: fnName });
  return wrapped;
}
