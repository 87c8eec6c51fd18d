/**
 * A Prisma driver adapter (over any driver adapter: adapter-pg,
 * adapter-mariadb, adapter-better-sqlite3) that counts every statement and
 * can hold or fail them, for deterministic integration tests. Free of vitest,
 * so child processes can use it too.
 */
import type { SqlDriverAdapter, SqlDriverAdapterFactory, SqlQuery, Transaction } from "@prisma/driver-adapter-utils";
import { driverAdapter } from "./providers";

/** What the counting adapter knows about one statement. */
export interface QueryInfo {
  kind: "query" | "execute";
  sql: string;
  args: unknown[];
  /** True when issued through an interactive or batch transaction. */
  inTransaction: boolean;
}

export type QueryPredicate = (q: QueryInfo) => boolean;

/**
 * Whether a statement names table `table`, as Prisma quotes it on every
 * provider: `"User"` (Postgres: `"public"."User"`), `` `User` `` (MySQL;
 * SQLite: `` `main`.`User` ``).
 */
export const mentionsTable = (sql: string, table: string): boolean => sql.includes(`"${table}"`) || sql.includes(`\`${table}\``);

/** A gate holding matching statements before they reach the database. */
export interface Gate {
  /** Resolves when the first matching statement reaches the gate. */
  opened: Promise<void>;
  /** Number of statements currently held. */
  readonly held: number;
  /** Lets held statements through and removes the gate. */
  release(): void;
}

/** Counters and hooks of {@link createCountingAdapter}. */
export interface QueryCounter {
  /** `queryRaw` calls so far (counted when issued, before any gate). */
  readonly queries: number;
  /**
   * `executeRaw` calls so far. Prisma also sends an interactive transaction's
   * COMMIT/ROLLBACK this way on Postgres and SQLite (not on MariaDB, whose
   * adapter commits by itself); BEGIN is never counted.
   */
  readonly executes: number;
  /** SQL text of every statement, in issue order. */
  readonly statements: string[];
  /** Every statement with its kind, args and whether it ran in a transaction, in issue order. */
  readonly log: QueryInfo[];
  /** Zeroes the counts, statements and log (gates and pending failures stay). */
  reset(): void;
  /** Holds statements matching `predicate` (default: all) until `release()`. */
  gate(predicate?: QueryPredicate): Gate;
  /**
   * Lets matching statements run, then holds their results until `release()`:
   * the caller gets data read before anything that happens while it is held.
   */
  gateResult(predicate?: QueryPredicate): Gate;
  /** Makes the next statement matching `predicate` (default: any) reject with `error` without reaching the database. */
  failNext(error: unknown, predicate?: QueryPredicate): void;
}

interface GateState {
  predicate: QueryPredicate;
  after: boolean;
  released: boolean;
  reached: () => void;
  waiters: Array<() => void>;
}

class Counter implements QueryCounter {
  queries = 0;
  executes = 0;
  readonly statements: string[] = [];
  readonly log: QueryInfo[] = [];
  private gates: GateState[] = [];
  private failures: Array<{ error: unknown; predicate: QueryPredicate }> = [];

  reset(): void {
    this.queries = 0;
    this.executes = 0;
    this.statements.length = 0;
    this.log.length = 0;
  }

  gate(predicate: QueryPredicate = () => true): Gate {
    return this.addGate(predicate, false);
  }

  gateResult(predicate: QueryPredicate = () => true): Gate {
    return this.addGate(predicate, true);
  }

  private addGate(predicate: QueryPredicate, after: boolean): Gate {
    let reached!: () => void;
    const opened = new Promise<void>((r) => (reached = r));
    const state: GateState = { predicate, after, released: false, reached, waiters: [] };
    this.gates.push(state);
    return {
      opened,
      get held() {
        return state.waiters.length;
      },
      release: () => {
        state.released = true;
        this.gates = this.gates.filter((g) => g !== state);
        for (const wake of state.waiters.splice(0)) wake();
      },
    };
  }

  failNext(error: unknown, predicate: QueryPredicate = () => true): void {
    this.failures.push({ error, predicate });
  }

  /** Counts synchronously at call time, then applies failures and gates, then runs. */
  async run<T>(info: QueryInfo, next: () => Promise<T>): Promise<T> {
    if (info.kind === "query") this.queries++;
    else this.executes++;
    this.statements.push(info.sql);
    this.log.push(info);
    const failure = this.failures.findIndex((f) => f.predicate(info));
    if (failure >= 0) throw this.failures.splice(failure, 1)[0]!.error;
    await this.hold(info, false);
    const result = await next();
    await this.hold(info, true);
    return result;
  }

  private async hold(info: QueryInfo, after: boolean): Promise<void> {
    for (const gate of [...this.gates]) {
      if (gate.released || gate.after !== after || !gate.predicate(info)) continue;
      await new Promise<void>((wake) => {
        gate.waiters.push(wake);
        gate.reached();
      });
    }
  }
}

type Queryable = SqlDriverAdapter | Transaction;

/** Proxies an adapter or transaction, routing queryRaw/executeRaw through the counter. */
function wrap<T extends Queryable>(target: T, counter: Counter, inTransaction: boolean): T {
  return new Proxy(target, {
    get(t, prop) {
      if (prop === "queryRaw" || prop === "executeRaw") {
        const kind = prop === "queryRaw" ? "query" : "execute";
        return (q: SqlQuery) => counter.run({ kind, sql: q.sql, args: q.args, inTransaction }, () => t[prop](q) as Promise<never>);
      }
      if (prop === "startTransaction" && "startTransaction" in t) {
        return async (...args: Parameters<SqlDriverAdapter["startTransaction"]>) => wrap(await t.startTransaction(...args), counter, true);
      }
      const value: unknown = Reflect.get(t, prop, t);
      return typeof value === "function" ? value.bind(t) : value;
    },
  });
}

/**
 * A driver adapter factory whose connections count every
 * `queryRaw`/`executeRaw` (also inside transactions) and can hold or fail
 * them. It wraps `target`, or the adapter of the provider `target`'s URL
 * names (`postgresql://`, `mysql://`, `file:`; see `providers.ts`).
 */
export function createCountingAdapter(target: string | SqlDriverAdapterFactory): { adapter: SqlDriverAdapterFactory; counter: QueryCounter } {
  const counter = new Counter();
  const adapter = new Proxy(typeof target === "string" ? driverAdapter(target) : target, {
    get(t, prop) {
      if (prop === "connect" || (prop === "connectToShadowDb" && prop in t)) {
        const connect = Reflect.get(t, prop, t) as () => Promise<SqlDriverAdapter>;
        return async () => wrap(await connect.call(t), counter, false);
      }
      const value: unknown = Reflect.get(t, prop, t);
      return typeof value === "function" ? value.bind(t) : value;
    },
  });
  return { adapter, counter };
}
