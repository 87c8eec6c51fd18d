/**
 * Which write Prisma is running, for the write path (engine/write-path.ts),
 * which runs it and bumps what it changed: the model and operation, what it
 * may change and what it changed, and its interactive transaction. Also the
 * query component, for the raw writes.
 * @module
 */
import { WRITE_OPERATIONS } from "../deps/writes.js";
import type { CacheRuntime } from "../runtime.js";
import type { InternalParams } from "./internals.js";

export type WriteParams = {
  model?: string;
  operation: string;
  args: Record<string, unknown> | undefined;
  query: (args: unknown) => PromiseLike<unknown>;
  /**
   * Whether `query` runs with the arguments it is given (Prisma's query
   * hooks; a model write method that can make its promise again), so that
   * the write path may add primary keys to its `select`. A fluent or batched
   * write runs as it was called.
   */
  reshapes?: boolean;
  __internalParams?: InternalParams;
};

/** The SQL text of `$executeRaw` (a `Sql` object) or `$executeRawUnsafe` (`[text, ...values]`) arguments. */
function sqlText(args: unknown): string {
  if (Array.isArray(args)) return typeof args[0] === "string" ? args[0] : "";
  const strings = (args as { strings?: unknown } | null)?.strings;
  return Array.isArray(strings) ? strings.join("$0") : "";
}

/** The dependency ids the writes of each open interactive transaction bump at its commit, by transaction id. */
export type Transactions = Map<unknown, Set<string>>;

/** Runs one write and bumps what it changed (see {@link createWriteRunner}). */
export interface WriteRunner {
  /** A model write (`model` and `operation` set): runs it through `params.query`, then bumps. */
  model(params: WriteParams): Promise<unknown>;
  /** `$executeRaw` / `$executeRawUnsafe`: runs it, then bumps what its SQL names. */
  raw(params: WriteParams): Promise<unknown>;
}

/**
 * How every write runs: the model component's write methods (write-methods.ts)
 * and the query component's hooks (below) both call it. `writeThroughAllowed`
 * says whether a write's result may be stored as the entry of a bare
 * client's read (see extension.ts).
 */
export function createWriteRunner(runtime: CacheRuntime, openTransactions: Transactions, writeThroughAllowed: () => boolean): WriteRunner {
  const writePath = runtime.writePath;
  /** What the write path needs of a write: how to run it, and whether it is inside an interactive transaction. */
  const of = (params: WriteParams) => {
    const tx = params.__internalParams?.transaction;
    return {
      run: (args?: Record<string, unknown>) => Promise.resolve(params.query(args ?? params.args)),
      reshapes: params.reshapes === true,
      model: params.model,
      operation: params.operation,
      args: params.args,
      transaction: tx?.kind === "itx" ? openTransactions.get(tx.id) : undefined,
    };
  };
  return {
    model(params) {
      const model = params.model!;
      const { operation, args } = params;
      const write = {
        ...of(params),
        before: () => writePath.depsBefore(model, operation, args),
        after: (result: unknown) => writePath.deps(model, operation, args, result),
        writeThrough: writePath.writesThrough(model) ? (result: unknown) => writePath.writeThrough(model, operation, args, result) : undefined,
      };
      return writePath.run(write, writeThroughAllowed);
    },
    raw(params) {
      const deps = () => writePath.rawDeps(sqlText(params.args));
      return writePath.run({ ...of(params), before: deps, after: deps }, () => false);
    },
  };
}

/**
 * The query component of the extension: `$executeRaw` and
 * `$executeRawUnsafe`, and the model writes that reach Prisma's query
 * pipeline on the cache's layer rather than through its write methods.
 */
export function createQueryHooks(runner: WriteRunner) {
  const raw = (params: WriteParams) => runner.raw(params);
  return {
    $allModels: {
      $allOperations(params: WriteParams) {
        if (params.model === undefined || !WRITE_OPERATIONS.has(params.operation)) return params.query(params.args);
        return runner.model({ ...params, reshapes: true });
      },
    },
    $executeRaw: raw,
    $executeRawUnsafe: raw,
  };
}
