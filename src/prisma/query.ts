/**
 * How a write runs: it runs, then bumps what it changed before it resolves.
 * Inside an interactive transaction it pre-invalidates and leaves the exact
 * bump to the commit (`Transactions`). Also the query component, for the
 * raw writes.
 * @module
 */
import { WRITE_OPERATIONS } from "../deps/writes.js";
import type { CacheRuntime } from "../runtime.js";
import type { ReadRequest } from "../engine/request.js";
import type { InternalParams } from "./internals.js";

export type WriteParams = {
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

/** Dependencies written inside each open interactive transaction, by transaction id. */
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
 * says whether a write's result may be stored as a plain read's entry (see
 * extension.ts).
 */
export function createWriteRunner(runtime: CacheRuntime, openTransactions: Transactions, writeThroughAllowed: () => boolean): WriteRunner {
  /**
   * Runs a write, then bumps what it changed (`after`, from its arguments and
   * result) before the write resolves. Inside an interactive transaction it
   * bumps `before` first (pre-invalidation) and `after` again at commit (see
   * `$transaction` in client.ts).
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
      await runtime.writes.bump(early);
      const result = await params.query(params.args);
      for (const d of after(result)) pending.add(d);
      return result;
    }
    if (!writeThrough && runtime.writes.overlaps(params.model, params.operation, params.args)) return overlapped(params, before, after);
    const result = await params.query(params.args);
    const store = writeThrough && writeThroughAllowed() ? writeThrough(result) : undefined;
    if (store) await runtime.writes.bumpAndStore(after(result), store, result);
    else await runtime.writes.bump(after(result));
    return result;
  };
  /**
   * A write whose bump runs while the database does: what it may change is
   * bumped with write marks first (fills of what depends on them refuse), the
   * query runs meanwhile, and once it resolves the marks are released by a
   * second bump: locally at once, in Redis just after the write resolves.
   * The release is waited for when the write changed more than it marked,
   * or took half the marks' window.
   */
  const overlapped = async (params: WriteParams, before: () => readonly string[], after: (result: unknown) => readonly string[]): Promise<unknown> => {
    const early = before();
    const started = performance.now();
    const marked = runtime.writes.mark(early);
    let result: unknown;
    try {
      result = await params.query(params.args);
    } catch (err) {
      runtime.writes.unmark(marked, early);
      throw err;
    }
    await runtime.writes.written(marked, early, after(result), started);
    return result;
  };
  return {
    model(params) {
      const model = params.model!;
      const { operation, args } = params;
      return write(
        params,
        () => runtime.writes.depsBefore(model, operation, args),
        (result) => runtime.writes.deps(model, operation, args, result),
        runtime.writes.writesThrough(model) ? (result) => runtime.writes.writeThrough(model, operation, args, result) : undefined,
      );
    },
    raw(params) {
      const deps = () => runtime.writes.rawDeps(sqlText(params.args));
      return write(params, deps, deps);
    },
  };
}

/**
 * The query component of the extension: `$executeRaw` and
 * `$executeRawUnsafe`, and the model writes that reach Prisma's query
 * pipeline on the cache's layer rather than through its write methods.
 */
export function createQueryHooks(writes: WriteRunner) {
  const raw = (params: WriteParams) => writes.raw(params);
  return {
    $allModels: {
      $allOperations(params: WriteParams) {
        if (params.model === undefined || !WRITE_OPERATIONS.has(params.operation)) return params.query(params.args);
        return writes.model(params);
      },
    },
    $executeRaw: raw,
    $executeRawUnsafe: raw,
  };
}
