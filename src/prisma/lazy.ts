/**
 * The object a cached read returns: a lazy PrismaPromise, like Prisma's own.
 * Nothing runs until it is awaited. Passed to a batch `$transaction([...])`
 * it hands over to the real query inside the batch. On `findUnique` and
 * `findFirst` (and their `OrThrow` forms) relation fields are fluent methods
 * that delegate to Prisma's fluent API.
 * @module
 */

import type { CacheExplanation } from "../engine/explain.js";
import type { CacheInfo } from "../engine/info.js";
import type { CacheRuntime } from "../runtime.js";
import type { ReadOutcome } from "../engine/request.js";

/** The transaction handle Prisma passes to `requestTransaction`. */
export type BatchTransaction = unknown;

/** What Prisma's batch `$transaction` and fluent API need of a query. */
export interface PrismaPromiseLike extends PromiseLike<unknown> {
  requestTransaction?(tx: BatchTransaction): PromiseLike<unknown>;
  [field: string]: unknown;
}

/** Runs a cached query, or the same query uncached on the client beneath the cache. */
export interface QueryRunner {
  /** Runs the query; `outcome`, when given, is told how it was answered. */
  execute(query: CachedQuery<unknown>, outcome?: ReadOutcome): Promise<unknown>;
  direct(query: CachedQuery<unknown>): PrismaPromiseLike;
  /** The cache info of a read that ended with `outcome` and `value`. */
  info(outcome: ReadOutcome, value: unknown): CacheInfo;
}

/** A runner that also tells how the cache would answer a query without running it (`$cache.explain`). */
export interface ExplainingRunner extends QueryRunner {
  /** The cache its queries belong to. */
  readonly runtime: CacheRuntime;
  /** How the cache would answer `query`, decided as its run decides, without running it. */
  explain(query: CachedQuery<unknown>): Promise<CacheExplanation>;
}

/** A promise that starts its work when first awaited, like Prisma's own, and runs it at most once. */
export abstract class LazyPromise<T> implements PromiseLike<T> {
  private promise: Promise<T> | undefined;

  /** Starts the work. */
  protected abstract start(): Promise<T>;

  private run(): Promise<T> {
    if (this.promise) return this.promise;
    try {
      this.promise = this.start();
    } catch (err) {
      // Errors reach the caller through the promise, never synchronously from then/catch.
      this.promise = Promise.reject(err);
    }
    return this.promise;
  }

  then<R1 = T, R2 = never>(
    onfulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null,
    onrejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    return this.run().then(onfulfilled, onrejected);
  }

  catch<R = never>(onrejected?: ((reason: unknown) => R | PromiseLike<R>) | null): Promise<T | R> {
    return this.run().catch(onrejected);
  }

  finally(onfinally?: (() => void) | null): Promise<T> {
    return this.run().finally(onfinally);
  }

  get [Symbol.toStringTag](): string {
    return "PrismaPromise";
  }
}

/** A lazy cached query. One allocation per call; it runs at most once. */
export class CachedQuery<T> extends LazyPromise<T> {
  constructor(
    /** What runs (and explains) it. */
    readonly runner: QueryRunner,
    /** Prisma's model context (`this` of the model method), or the client for a raw read. */
    readonly ctx: unknown,
    /** The operation called. */
    readonly operation: string,
    /** Arguments without `cache`. */
    readonly args: Record<string, unknown> | undefined,
    /** The per-query `cache` option, unvalidated. */
    readonly cache: unknown,
  ) {
    super();
  }

  protected start(): Promise<T> {
    return this.runner.execute(this) as Promise<T>;
  }

  /** The same read, resolving to `{ data, info }`: the data and how the cache answered it. Lazy too. */
  withCacheInfo(): InfoQuery<T> {
    return new InfoQuery(this.runner, this);
  }

  /** Batch `$transaction([...])`: reads inside a transaction go to the database. */
  requestTransaction(tx: BatchTransaction): PromiseLike<unknown> {
    const d = this.runner.direct(this);
    return d.requestTransaction ? d.requestTransaction(tx) : d;
  }

  /** Prisma's fluent API: `findUnique(...).posts(args)`, uncached. */
  fluent(field: string, args: unknown): unknown {
    const fn = this.runner.direct(this)[field];
    if (typeof fn !== "function") throw new TypeError(`${field}() is not available on this query`);
    return (fn as (a?: unknown) => unknown)(args);
  }
}

/** `withCacheInfo()`: a cached read that resolves to its data and its {@link CacheInfo}. */
export class InfoQuery<T> extends LazyPromise<{ data: T; info: CacheInfo }> {
  constructor(
    private readonly runner: QueryRunner,
    /** The read it answers with its info. */
    readonly query: CachedQuery<T>,
  ) {
    super();
  }

  protected start(): Promise<{ data: T; info: CacheInfo }> {
    const outcome: ReadOutcome = { status: "bypass", timing: undefined, plan: undefined };
    return this.runner.execute(this.query, outcome).then((data) => ({ data: data as T, info: this.runner.info(outcome, data) }));
  }

  /** Batch `$transaction([...])`: the read goes to the database, so its status is `bypass`. */
  requestTransaction(tx: BatchTransaction): PromiseLike<unknown> {
    const d = this.runner.direct(this.query);
    const bypass: ReadOutcome = { status: "bypass", timing: undefined, plan: undefined };
    return (d.requestTransaction ? d.requestTransaction(tx) : d).then((data) => ({ data, info: this.runner.info(bypass, data) }));
  }
}

/**
 * The CachedQuery of `findUnique` and `findFirst` (and their `OrThrow`
 * forms) on every model: relation fields are methods of its prototype
 * ({@link addFluentFields}), so `findUnique(...).posts()` works as with
 * Prisma. One class for all models and clients: the reads' objects then all
 * have one of two shapes, and the property accesses on the hit path stay
 * fast (a class per model made them megamorphic, and an L1 hit about 1.8x
 * slower, once a few models and clients were in use). A field that is not a
 * relation of the query's model throws a TypeError when called, as Prisma's
 * own promise has no such method.
 */
export class FluentCachedQuery<T> extends CachedQuery<T> {}

/** What a fluent method calls on the query it is a method of. */
interface Fluent {
  fluent(field: string, args: unknown): unknown;
}

/**
 * A function that gives `cls`'s prototype a method for each relation field
 * it lacks, calling the instance's `fluent(field, args)`: one class serves
 * every model's fluent API (a field the model lacks fails in `fluent`).
 */
export function fluentMethods(cls: { prototype: object }): (relationFields: readonly string[]) => void {
  const added = new Set<string>();
  return (relationFields) => {
    for (const field of relationFields) {
      if (added.has(field) || field in cls.prototype) continue;
      added.add(field);
      Object.defineProperty(cls.prototype, field, {
        value(this: Fluent, args?: unknown) {
          return this.fluent(field, args);
        },
      });
    }
  };
}

/** Gives {@link FluentCachedQuery}'s prototype a fluent method for each of `relationFields` it lacks. */
export const addFluentFields = fluentMethods(FluentCachedQuery);
