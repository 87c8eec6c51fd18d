/**
 * The lazy PrismaPromise a cached read returns, over a fake query runner:
 * nothing runs until it is awaited, it runs once, a synchronous throw
 * arrives as a rejection, a batch `$transaction` hands the query to Prisma
 * uncached, `withCacheInfo()` reports how the read was answered, and
 * relation fields become fluent methods.
 */
import { describe, expect, it } from "vitest";
import type { CacheInfo } from "../../src/engine/info";
import type { ReadOutcome } from "../../src/engine/request";
import { CachedQuery, FluentCachedQuery, fluentMethods, LazyPromise, type PrismaPromiseLike, type QueryRunner } from "../../src/prisma/lazy";

/** A runner that records its calls: `execute` answers `value` (or throws `error`); `direct` is Prisma's own query. */
class FakeRunner implements QueryRunner {
  readonly calls: string[] = [];
  value: unknown = { id: 1 };
  error: Error | undefined;
  /** What the direct query offers: Prisma's `requestTransaction` and fluent methods, or neither. */
  direct_: PrismaPromiseLike = Object.assign(Promise.resolve("direct") as unknown as PrismaPromiseLike, {
    requestTransaction: (tx: unknown) => {
      this.calls.push(`requestTransaction ${String(tx)}`);
      return Promise.resolve("in transaction");
    },
    posts: (args: unknown) => {
      this.calls.push(`posts ${JSON.stringify(args)}`);
      return "posts query";
    },
  });

  async execute(query: CachedQuery<unknown>, outcome?: ReadOutcome): Promise<unknown> {
    this.calls.push(`execute ${query.operation}`);
    if (this.error) throw this.error;
    if (outcome) outcome.status = "l1";
    return this.value;
  }

  direct(query: CachedQuery<unknown>): PrismaPromiseLike {
    this.calls.push(`direct ${query.operation}`);
    return this.direct_;
  }

  info(outcome: ReadOutcome, value: unknown): CacheInfo {
    return { status: outcome.status, key: `key of ${JSON.stringify(value)}`, age: 0, ttl: 0, deps: [] };
  }
}

const query = (runner: FakeRunner, operation = "findUnique") => new CachedQuery<unknown>(runner, {}, operation, { where: { id: 1 } }, undefined);

describe("CachedQuery", () => {
  it("runs nothing until awaited, and runs once however often it is awaited", async () => {
    const runner = new FakeRunner();
    const q = query(runner);
    expect(runner.calls).toEqual([]);
    await expect(q).resolves.toEqual({ id: 1 });
    await q;
    await q.then((v) => v);
    expect(runner.calls).toEqual(["execute findUnique"]);
  });

  it("starts on then, catch or finally alike", async () => {
    for (const start of [(q: CachedQuery<unknown>) => q.catch(() => 0), (q: CachedQuery<unknown>) => q.finally(() => undefined)]) {
      const runner = new FakeRunner();
      await start(query(runner));
      expect(runner.calls).toEqual(["execute findUnique"]);
    }
  });

  it("delivers the runner's failure as a rejection, to each awaiter", async () => {
    const runner = new FakeRunner();
    runner.error = new Error("database down");
    const q = query(runner);
    await expect(q).rejects.toThrow("database down");
    await expect(q.catch((e) => `caught ${(e as Error).message}`)).resolves.toBe("caught database down");
    expect(runner.calls).toEqual(["execute findUnique"]);
  });

  it("turns a synchronous throw of its work into a rejection, never a throw from then()", async () => {
    class Throws extends LazyPromise<number> {
      protected start(): Promise<number> {
        throw new Error("sync");
      }
    }
    const p = new Throws();
    let promise: Promise<unknown> | undefined;
    expect(() => (promise = p.then())).not.toThrow();
    await expect(promise).rejects.toThrow("sync");
  });

  it("is tagged as Prisma's promise", () => {
    expect(Object.prototype.toString.call(query(new FakeRunner()))).toBe("[object PrismaPromise]");
  });

  it("in a batch $transaction, hands over to Prisma's own query and never reads the cache", async () => {
    const runner = new FakeRunner();
    await expect(query(runner).requestTransaction("tx1")).resolves.toBe("in transaction");
    expect(runner.calls).toEqual(["direct findUnique", "requestTransaction tx1"]);
  });

  it("in a batch $transaction, hands over the direct query itself when it has no requestTransaction", async () => {
    const runner = new FakeRunner();
    runner.direct_ = Promise.resolve("plain") as unknown as PrismaPromiseLike;
    await expect(query(runner).requestTransaction("tx1")).resolves.toBe("plain");
  });

  it("withCacheInfo(): lazy too, resolves to the data and the info of the outcome the read path filled in", async () => {
    const runner = new FakeRunner();
    const q = query(runner).withCacheInfo();
    expect(runner.calls).toEqual([]);
    await expect(q).resolves.toEqual({ data: { id: 1 }, info: { status: "l1", key: 'key of {"id":1}', age: 0, ttl: 0, deps: [] } });
  });

  it("withCacheInfo() in a batch $transaction: the direct query's data, as a bypass", async () => {
    const runner = new FakeRunner();
    const r = await query(runner).withCacheInfo().requestTransaction("tx2");
    expect(r).toEqual({ data: "in transaction", info: expect.objectContaining({ status: "bypass" }) });
    expect(runner.calls).not.toContain("execute findUnique");
  });
});

describe("fluent methods", () => {
  it("delegate a relation field to Prisma's fluent API on the direct query", () => {
    const runner = new FakeRunner();
    const q = query(runner);
    expect(q.fluent("posts", { take: 1 })).toBe("posts query");
    expect(runner.calls).toEqual(["direct findUnique", 'posts {"take":1}']);
    expect(() => q.fluent("comments", undefined)).toThrow(TypeError);
  });

  it("are added once per field, never over a method the class has", () => {
    class Query {
      fluent(field: string, args: unknown): string {
        return `${field}(${JSON.stringify(args)})`;
      }
      then(): string {
        return "own then";
      }
    }
    const add = fluentMethods(Query);
    add(["author", "then"]);
    add(["author", "tags"]);
    const q = new Query() as Query & Record<string, (args?: unknown) => unknown>;
    expect(q.author!({ select: { id: true } })).toBe('author({"select":{"id":true}})');
    expect(q.tags!()).toBe("tags(undefined)");
    expect(q.then()).toBe("own then");
    expect(Object.getOwnPropertyNames(Query.prototype).sort()).toEqual(["author", "constructor", "fluent", "tags", "then"]);
  });

  it("on FluentCachedQuery, reach the direct query of the instance they are called on", () => {
    const runner = new FakeRunner();
    fluentMethods(FluentCachedQuery)(["posts"]);
    const q = new FluentCachedQuery<unknown>(runner, {}, "findFirst", undefined, undefined) as FluentCachedQuery<unknown> & { posts(a?: unknown): unknown };
    expect(q.posts({ where: { published: true } })).toBe("posts query");
    expect(runner.calls).toEqual(["direct findFirst", 'posts {"where":{"published":true}}']);
  });
});
