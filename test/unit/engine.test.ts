/**
 * The engine without Prisma: a runtime built from a small model description
 * (no client), driven through planning, the read path, write dependencies and
 * bumps, with the in-process tier only. And the seam's rule: outside
 * src/prisma/, nothing imports `@prisma/*`.
 */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { recordedDeps } from "../../src/engine/request";
import { describe, expect, it } from "vitest";
import { resolveOptions } from "../../src/config";
import type { RuntimeDataModel } from "../../src/deps/graph";
import { CacheRuntime } from "../../src/runtime";

const field = (name: string, kind: "scalar" | "object" = "scalar", type = "Int", relationName?: string) => ({ name, kind, type, relationName });
const dataModel: RuntimeDataModel = {
  models: {
    Author: { fields: [field("id"), field("name", "scalar", "String"), field("books", "object", "Book", "AuthorToBook")] },
    Book: { fields: [field("id"), field("authorId"), field("author", "object", "Author", "AuthorToBook")] },
  },
};
const schema = `
model Author {
  id    Int    @id
  name  String
  books Book[]
}
model Book {
  id       Int    @id
  authorId Int
  author   Author @relation(fields: [authorId], references: [id], onDelete: Cascade)
}`;

function engine() {
  const runtime = new CacheRuntime(resolveOptions({ ttl: 60 }), dataModel, schema);
  let loads = 0;
  const rows = new Map<number, { id: number; name: string }>([
    [1, { id: 1, name: "Ann" }],
    [2, { id: 2, name: "Bo" }],
  ]);
  const read = async (op: "findUnique" | "findMany", args: Record<string, unknown>) => {
    const plan = runtime.planner.plan({ model: "Author", operation: op, args })!;
    const load = async () => {
      loads++;
      return op === "findMany" ? [...rows.values()] : (rows.get((args.where as { id: number }).id) ?? null);
    };
    return runtime.read(plan, load, false);
  };
  const update = async (id: number, name: string) => {
    rows.set(id, { id, name });
    await runtime.writePath.bump(runtime.writePath.deps("Author", "update", { where: { id }, data: { name } }, { id, name }));
  };
  return { runtime, read, update, loads: () => loads };
}

describe("the engine, without Prisma", () => {
  it("caches a read, serves it from L1, and a write to its row makes it stale", async () => {
    const e = engine();
    expect(await e.read("findUnique", { where: { id: 1 } })).toEqual({ id: 1, name: "Ann" });
    expect(await e.read("findUnique", { where: { id: 1 } })).toEqual({ id: 1, name: "Ann" });
    expect(e.loads()).toBe(1);
    await e.update(1, "Anna");
    expect(await e.read("findUnique", { where: { id: 1 } })).toEqual({ id: 1, name: "Anna" });
    expect(e.loads()).toBe(2);
    expect(e.runtime.stats.snapshot()).toMatchObject({ hits: { l1: 1, l2: 0 }, misses: 2, fills: 2 });
  });

  it("row-level dependencies: a write to another row leaves a unique lookup cached; list reads go stale", async () => {
    const e = engine();
    await e.read("findUnique", { where: { id: 1 } });
    await e.read("findMany", {});
    await e.update(2, "Bob");
    await e.read("findUnique", { where: { id: 1 } });
    expect(e.loads()).toBe(2);
    expect(await e.read("findMany", {})).toEqual([
      { id: 1, name: "Ann" },
      { id: 2, name: "Bob" },
    ]);
    expect(e.loads()).toBe(3);
  });

  it("a read through a relation depends on the related rows, by the parent's key", async () => {
    const e = engine();
    const { planner } = e.runtime;
    const recorded = (model: string, args: Record<string, unknown>, value: unknown) =>
      recordedDeps(planner.complete(planner.plan({ model, operation: "findMany", args })!), value);
    const withBooks = recorded("Author", { include: { books: true } }, [{ id: 1, name: "Ann", books: [] }]);
    const alone = recorded("Author", {}, [{ id: 1, name: "Ann" }]);
    const create = (id: number, authorId: number) => e.runtime.writePath.deps("Book", "create", { data: { id, authorId } }, { id, authorId });
    const meets = (a: readonly string[], b: readonly string[]) => a.some((d) => b.includes(d));
    // A book of author 1 changes what Ann's books are; a book of author 2 does not, nor a read without the books.
    expect(meets(withBooks, create(9, 1))).toBe(true);
    expect(meets(withBooks, create(10, 2))).toBe(false);
    expect(meets(alone, create(9, 1))).toBe(false);
  });

  it("keys of the same query differ by the client's prefix (scopes, computed fields)", () => {
    const e = engine();
    const { planner } = e.runtime;
    const a = planner.complete(planner.plan({ model: "Author", operation: "findMany", args: {} }, { prefix: "cA|" })!);
    const b = planner.complete(planner.plan({ model: "Author", operation: "findMany", args: {} }, { prefix: "cB|" })!);
    expect(a.l1Key).not.toBe(b.l1Key);
    expect(a.l2Id).toBeDefined();
    expect(a.l2Id).not.toBe(b.l2Id);
    expect(a.deps).toEqual(b.deps);
  });
});

describe("the Prisma seam", () => {
  it("outside src/prisma/, no source file imports @prisma/*", () => {
    const root = fileURLToPath(new URL("../../src", import.meta.url));
    const offenders: string[] = [];
    const walk = (dir: string) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) {
          if (full !== path.join(root, "prisma")) walk(full);
        } else if (entry.name.endsWith(".ts") && /from\s+["']@prisma\//.test(readFileSync(full, "utf8"))) offenders.push(path.relative(root, full));
      }
    };
    walk(root);
    expect(offenders).toEqual([]);
  });
});
