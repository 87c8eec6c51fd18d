/**
 * The object a cached read returns: a lazy PrismaPromise, like Prisma's own.
 * Nothing runs until it is awaited. Passed to a batch `$transaction([...])`
 * it hands over to the real query inside the batch. On `findUnique` and
 * `findFirst` (and their `OrThrow` forms) relation fields are fluent methods
 * that delegate to Prisma's fluent API.
 * @module
 */

/** The transaction handle Prisma passes to `requestTransaction`. */
export type BatchTransaction = unknown;

/** What Prisma's batch `$transaction` and fluent API need of a query. */
export interface PrismaPromiseLike extends PromiseLike<unknown> {
  requestTransaction?(tx: BatchTransaction): PromiseLike<unknown>;
  [field: string]: unknown;
}

/** Runs a cached query, or the same query uncached on the client beneath the cache. */
export interface QueryRunner {
  execute(query: CachedQuery<unknown>): Promise<unknown>;
  direct(query: CachedQuery<unknown>): PrismaPromiseLike;
}

/** A lazy cached query. One allocation per call; it runs at most once. */
export class CachedQuery<T> implements PromiseLike<T> {
  private promise: Promise<T> | undefined;

  constructor(
    private readonly runner: QueryRunner,
    /** Prisma's model context (`this` of the model method). */
    readonly ctx: unknown,
    /** The operation called. */
    readonly operation: string,
    /** Arguments without `cache`. */
    readonly args: Record<string, unknown> | undefined,
    /** The per-query `cache` option, unvalidated. */
    readonly cache: unknown,
  ) {}

  private run(): Promise<T> {
    if (this.promise) return this.promise;
    try {
      this.promise = this.runner.execute(this) as Promise<T>;
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

  /** Batch `$transaction([...])`: reads inside a transaction go to the database. */
  requestTransaction(tx: BatchTransaction): PromiseLike<unknown> {
    const d = this.runner.direct(this);
    return d.requestTransaction ? d.requestTransaction(tx) : d;
  }

  /** Prisma's fluent API: `findUnique(...).posts(args)`, uncached. */
  protected fluent(field: string, args: unknown): unknown {
    const fn = this.runner.direct(this)[field];
    if (typeof fn !== "function") throw new TypeError(`${field}() is not available on this query`);
    return (fn as (a?: unknown) => unknown)(args);
  }

  get [Symbol.toStringTag](): string {
    return "PrismaPromise";
  }
}

/**
 * The CachedQuery subclass of a model whose prototype has one method per
 * relation field, so `findUnique(...).posts()` works as with Prisma.
 */
export function fluentClass(relationFields: readonly string[]): typeof CachedQuery {
  class FluentCachedQuery<T> extends CachedQuery<T> {}
  for (const field of relationFields) {
    if (field in FluentCachedQuery.prototype) continue;
    Object.defineProperty(FluentCachedQuery.prototype, field, {
      value(this: FluentCachedQuery<unknown>, args?: unknown) {
        return this.fluent(field, args);
      },
    });
  }
  return FluentCachedQuery;
}
