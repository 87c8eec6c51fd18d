/**
 * The model component's writes: `create`, `update`, `delete` and the other
 * write operations on every model. Each returns a lazy PrismaPromise that
 * runs the write on the client beneath the cache and bumps what it changed
 * (query.ts), so a write does not go through Prisma's query-extension
 * pipeline on the cache's own layer. In a batch `$transaction([...])` and
 * through the fluent API it does the same with Prisma's promise for it.
 * @module
 */
import { WRITE_OPERATIONS } from "../deps/writes.js";
import type { RelationGraph } from "../deps/graph.js";
import { isTransactionClient, type InternalParams, transactionId } from "./internals.js";
import { type BatchTransaction, fluentMethods, LazyPromise, type PrismaPromiseLike } from "./lazy.js";
import type { WriteRunner } from "./query.js";
import { beneath, type ModelContext } from "./source.js";

/** What a write started from a model method knows. */
interface WriteCall {
  readonly runner: WriteRunner;
  readonly model: string;
  readonly operation: string;
  /** The arguments the write's bumps are worked out from. */
  readonly args: Record<string, unknown> | undefined;
  /** The transaction the client it was called on runs in, if any. */
  readonly internal: InternalParams | undefined;
  /** Prisma's promise for the write with other arguments (keys added to its `select`); undefined for a fluent step. */
  readonly remake: ((args: Record<string, unknown>) => PrismaPromiseLike) | undefined;
}

/**
 * A write called on a model: Prisma's own promise for it on the client
 * beneath the cache (made at the call, so that Prisma's errors point at the
 * caller), run through the write runner when awaited.
 */
export class CachedWrite extends LazyPromise<unknown> {
  constructor(
    private readonly call: WriteCall,
    /** Prisma's promise for the write (or for a fluent step of it), not started. */
    private readonly prisma: PrismaPromiseLike,
  ) {
    super();
  }

  protected start(): Promise<unknown> {
    const { remake } = this.call;
    // The promise made at the call, unless the write path runs it with other arguments.
    const query = (args: unknown) => (remake && args !== this.call.args ? remake(args as Record<string, unknown>) : this.prisma);
    return this.runWith(query, this.call.internal, remake !== undefined);
  }

  /** Batch `$transaction([...])`: the write runs in the batch, and bumps once it committed. */
  requestTransaction(tx: BatchTransaction): PromiseLike<unknown> {
    const p = this.prisma;
    return this.runWith(() => (p.requestTransaction ? p.requestTransaction(tx) : p), { transaction: tx as InternalParams["transaction"] });
  }

  private runWith(query: (args: unknown) => PromiseLike<unknown>, internal: InternalParams | undefined, reshapes = false): Promise<unknown> {
    const { runner, model, operation, args } = this.call;
    return runner.model({ model, operation, args, query, reshapes, __internalParams: internal });
  }

  /**
   * Prisma's fluent API on a write: `update(...).author()` runs the write
   * with the relation selected, and bumps like the write (its arguments then
   * carry a `select`, so its result is not stored as a read's entry).
   */
  fluent(field: string, args: unknown): FluentWrite {
    const fn = this.prisma[field];
    if (typeof fn !== "function") throw new TypeError(`${field}() is not available on this query`);
    const next = (fn as (a?: unknown) => PrismaPromiseLike).call(this.prisma, args);
    return new FluentWrite({ ...this.call, args: { ...this.call.args, select: { [field]: args ?? true } }, remake: undefined }, next);
  }
}

/**
 * The CachedWrite of the writes that resolve to one row (`create`, `update`,
 * `upsert`, `delete`), with every model's relation fields as fluent
 * methods: one class for all models (see `FluentCachedQuery`).
 */
class FluentWrite extends CachedWrite {}

const addFluentWriteFields = fluentMethods(FluentWrite);

/** Operations whose promise has Prisma's fluent API (they resolve to one row). */
const FLUENT_WRITES = new Set(["create", "update", "upsert", "delete"]);

/** The model component's write methods, one per write operation. */
export function createWriteMethods(runner: WriteRunner, graph: RelationGraph) {
  for (const model of graph.models) addFluentWriteFields(graph.relationFields(model));
  const methods: Record<string, (this: unknown, args?: Record<string, unknown>) => unknown> = {};
  for (const operation of WRITE_OPERATIONS) {
    const fluent = FLUENT_WRITES.has(operation);
    methods[operation] = function (this: unknown, args?: Record<string, unknown>) {
      const ctx = this as ModelContext;
      const prisma = beneath(ctx, operation, methods[operation])[operation]!(args) as PrismaPromiseLike;
      const client = ctx.$parent;
      const internal: InternalParams | undefined = isTransactionClient(client) ? { transaction: { kind: "itx", id: transactionId(client) } } : undefined;
      const remake = (a: Record<string, unknown>) => beneath(ctx, operation, methods[operation])[operation]!(a) as PrismaPromiseLike;
      const call: WriteCall = { runner, model: ctx.$name, operation, args, internal, remake };
      return fluent ? new FluentWrite(call, prisma) : new CachedWrite(call, prisma);
    };
  }
  return methods;
}
