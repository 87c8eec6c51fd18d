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

/** What Prisma's batch `$transaction` needs of each element. */
interface PrismaPromiseLike<T> extends PromiseLike<T> {
  requestTransaction?(tx: BatchTransaction): PromiseLike<T>;
  [field: string]: unknown;
}

/** A lazy cached query. `run` is called at most once. */
export class CachedQuery<T> implements PromiseLike<T> {
  private promise: Promise<T> | undefined;

  constructor(
    private readonly execute: () => Promise<T>,
    /** The same query on the client beneath the cache, uncached (for batches and fluent calls). */
    protected readonly direct: () => PrismaPromiseLike<T>,
  ) {}

  private run(): Promise<T> {
    return (this.promise ??= this.execute());
  }

  then<R1 = T, R2 = never>(onfulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null, onrejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null): Promise<R1 | R2> {
    return this.run().then(onfulfilled, onrejected);
  }

  catch<R = never>(onrejected?: ((reason: unknown) => R | PromiseLike<R>) | null): Promise<T | R> {
    return this.run().catch(onrejected);
  }

  finally(onfinally?: (() => void) | null): Promise<T> {
    return this.run().finally(onfinally);
  }

  /** Batch `$transaction([...])`: reads inside a transaction go to the database. */
  requestTransaction(tx: BatchTransaction): PromiseLike<T> {
    const d = this.direct();
    return d.requestTransaction ? d.requestTransaction(tx) : d;
  }

  get [Symbol.toStringTag](): string {
    return "PrismaPromise";
  }
}

/**
 * The CachedQuery subclass of a model whose prototype has one method per
 * relation field, so `findUnique(...).posts()` works as with Prisma.
 * Classes are memoized in `classes` (one map per relation graph).
 */
export function fluentClass(classes: Map<string, typeof CachedQuery>, model: string, relationFields: readonly string[]): typeof CachedQuery {
  let C = classes.get(model);
  if (C) return C;
  C = class FluentCachedQuery<T> extends CachedQuery<T> {};
  for (const field of relationFields) {
    if (field in C.prototype) continue;
    Object.defineProperty(C.prototype, field, {
      value(this: { direct: () => PrismaPromiseLike<unknown> }, args?: unknown) {
        const fluent = this.direct()[field];
        if (typeof fluent !== "function") throw new TypeError(`${model}.${field}() is not available on this query`);
        return (fluent as (a?: unknown) => unknown)(args);
      },
    });
  }
  classes.set(model, C);
  return C;
}
