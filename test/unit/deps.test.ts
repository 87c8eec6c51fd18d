/**
 * Table-driven tests of the pure dependency logic on the project schema: what
 * each read shape depends on, and what each write kind bumps. Dependency ids:
 * `m:Model` (the model), `r:Model:[…]` (one row by primary key), `b:Model`
 * (bulk writes whose rows are unknown), `n:Model` (a row may have appeared),
 * `t:tag`, and `*` (the whole namespace). No database: the runtime is built
 * from the generated client's data model and schema text.
 */
import { PrismaPg } from "@prisma/adapter-pg";
import { describe, expect, it } from "vitest";
import { PrismaClient } from "../../generated/prisma/client";
import { resolveOptions } from "../../src/config";
import { inlineSchema, runtimeDataModel } from "../../src/prisma/internals";
import type { ReadOperation } from "../../src/engine/planner";
import { CacheRuntime } from "../../src/runtime";

const client = new PrismaClient({ adapter: new PrismaPg({ connectionString: "postgresql://127.0.0.1:1/none" }) });
const runtime = new CacheRuntime(resolveOptions({ ttl: 60, models: { Post: { tags: ["feed"] } } }), runtimeDataModel(client)!, inlineSchema(client));
const sorted = (xs: readonly string[]) => [...new Set(xs)].sort();

type ReadCase = [why: string, model: string, operation: ReadOperation, args: Record<string, unknown>, deps: string[]];
const READS: ReadCase[] = [
  ["a list depends on its model", "User", "findMany", {}, ["m:User"]],
  ["include adds the related model", "User", "findMany", { include: { posts: true } }, ["m:User", "m:Post"]],
  ["nested relation select, at any depth", "User", "findMany", { select: { posts: { select: { comments: true } } } }, ["m:User", "m:Post", "m:Comment"]],
  ["a relation filter in where", "Post", "findMany", { where: { author: { is: { name: "a" } } } }, ["m:Post", "m:User", "t:feed"]],
  ["an m-n relation filter in a count", "Post", "count", { where: { tags: { some: { name: "x" } } } }, ["m:Post", "m:Tag", "t:feed"]],
  ["a relation orderBy", "Post", "findMany", { orderBy: { author: { name: "asc" } } }, ["m:Post", "m:User", "t:feed"]],
  ["a relation _count", "User", "findMany", { include: { _count: { select: { posts: true } } } }, ["m:User", "m:Post"]],
  ["the model's tags", "Post", "aggregate", { _sum: { views: true } }, ["m:Post", "t:feed"]],
  ["findUnique by id: its row, and bulk writes of the model", "User", "findUnique", { where: { id: 1 } }, ["b:User", "r:User:[#1]"]],
  [
    "findUnique by a compound primary key",
    "Membership",
    "findUnique",
    { where: { userId_groupId: { userId: 1, groupId: 2 } } },
    ["b:Membership", "r:Membership:[#1,#2]"],
  ],
  ["findUnique by another unique key: the row found is added after the query", "User", "findUnique", { where: { email: "a" } }, ["b:User"]],
  [
    "findUnique with an include: the row, and the related model",
    "User",
    "findUnique",
    { where: { id: 1 }, include: { profile: true } },
    ["b:User", "r:User:[#1]", "m:Profile"],
  ],
  ["groupBy", "Post", "groupBy", { by: ["published"], _count: true }, ["m:Post", "t:feed"]],
];

type WriteCase = [why: string, model: string, operation: string, args: Record<string, unknown>, result: unknown, bumps: string[]];
const WRITES: WriteCase[] = [
  ["update by id: the model and the row", "User", "update", { where: { id: 1 }, data: { name: "x" } }, { id: 1 }, ["m:User", "r:User:[#1]"]],
  ["the model's tags", "Post", "update", { where: { id: 1 }, data: { title: "x" } }, { id: 1 }, ["m:Post", "t:feed", "r:Post:[#1]"]],
  [
    "delete: its row, and the models its referential actions change (Cascade, SetNull, self-relation)",
    "User",
    "delete",
    { where: { id: 1 } },
    { id: 1 },
    [
      "m:User",
      "r:User:[#1]",
      "b:User",
      "n:User",
      "m:Profile",
      "b:Profile",
      "n:Profile",
      "m:Post",
      "t:feed",
      "b:Post",
      "n:Post",
      "m:Membership",
      "b:Membership",
      "n:Membership",
    ],
  ],
  [
    "create: the new row, and nested creates",
    "User",
    "create",
    { data: { email: "a", profile: { create: { bio: "b" } } } },
    { id: 5 },
    ["m:User", "n:User", "r:User:[#5]", "m:Profile", "b:Profile", "n:Profile"],
  ],
  [
    "a nested create in an update",
    "Post",
    "update",
    { where: { id: 1 }, data: { comments: { create: { body: "x" } } } },
    { id: 1 },
    ["m:Post", "t:feed", "r:Post:[#1]", "m:Comment", "b:Comment", "n:Comment"],
  ],
  [
    "an implicit m-n connect: the other model's lists, not its rows",
    "Post",
    "update",
    { where: { id: 1 }, data: { tags: { connect: { id: 2 } } } },
    { id: 1 },
    ["m:Post", "t:feed", "r:Post:[#1]", "m:Tag"],
  ],
  [
    "a primary-key change: old and new row, onUpdate Cascade and the m-n links",
    "Post",
    "update",
    { where: { id: 3 }, data: { id: 9 } },
    { id: 9 },
    ["m:Post", "t:feed", "r:Post:[#3]", "r:Post:[#9]", "n:Post", "m:Tag", "b:Tag", "n:Tag", "m:Comment", "b:Comment", "n:Comment"],
  ],
  [
    "updateMany: rows unknown, so every row of the model",
    "User",
    "updateMany",
    { where: { name: "x" }, data: { name: "y" } },
    { count: 2 },
    ["m:User", "b:User"],
  ],
  ["createMany: no ids returned, so rows may have appeared", "User", "createMany", { data: [{ email: "a" }] }, { count: 1 }, ["m:User", "b:User", "n:User"]],
  ["deleteMany", "Comment", "deleteMany", { where: {} }, { count: 3 }, ["m:Comment", "b:Comment"]],
  [
    "a nested delete: the related rows and what they cascade to (a post takes its comments and tag links)",
    "User",
    "update",
    { where: { id: 1 }, data: { posts: { delete: { id: 4 } } } },
    { id: 1 },
    ["m:User", "r:User:[#1]", "m:Post", "t:feed", "b:Post", "n:Post", "m:Tag", "b:Tag", "n:Tag", "m:Comment", "b:Comment", "n:Comment"],
  ],
  [
    "a nested update of a referenced id: what onUpdate Cascade moves",
    "User",
    "update",
    { where: { id: 1 }, data: { posts: { update: { where: { id: 4 }, data: { id: 40 } } } } },
    { id: 1 },
    ["m:User", "r:User:[#1]", "m:Post", "t:feed", "b:Post", "n:Post", "m:Tag", "b:Tag", "n:Tag", "m:Comment", "b:Comment", "n:Comment"],
  ],
  [
    "a nested update of other fields: no referential action",
    "User",
    "update",
    { where: { id: 1 }, data: { posts: { updateMany: { where: {}, data: { title: "t" } } } } },
    { id: 1 },
    ["m:User", "r:User:[#1]", "m:Post", "t:feed", "b:Post", "n:Post"],
  ],
];

type RawCase = [why: string, sql: string, bumps: string[] | "everything"];
const RAW: RawCase[] = [
  ["a mapped table (@@map)", `UPDATE "comments" SET body = 'x'`, ["m:Comment", "b:Comment", "n:Comment"]],
  ["a SELECT writes nothing (set_config included: it writes no table)", "SELECT set_config('app.customer', '1', true)", []],
  ["SQL it cannot follow bumps the whole namespace", "DO $$ BEGIN END $$", "everything"],
];

/** What a read depends on, as the planner completes its plan on a miss. */
const depsOf = (model: string, operation: ReadOperation, args: Record<string, unknown>): readonly string[] =>
  runtime.planner.complete(runtime.planner.plan(model, operation, args, undefined)!).deps;

describe("what a read depends on", () => {
  it.each(READS)("%s", (_why, model, operation, args, deps) => {
    expect(sorted(depsOf(model, operation, args))).toEqual(sorted(deps));
  });
});

describe("what a write bumps", () => {
  it.each(WRITES)("%s", (_why, model, operation, args, result, bumps) => {
    expect(sorted(runtime.writes.deps(model, operation, args, result))).toEqual(sorted(bumps));
  });

  it.each(WRITES)("and a write's bumps cover every read it can change: %s", (_why, model, operation, args, result) => {
    const bumped = new Set(runtime.writes.deps(model, operation, args, result));
    // A list read of the written model must go stale.
    expect(depsOf(model, "findMany", {}).some((d) => bumped.has(d))).toBe(true);
  });
});

describe("what raw SQL bumps", () => {
  it.each(RAW)("%s", (_why, sql, bumps) => {
    const got = runtime.writes.rawDeps(sql);
    if (bumps === "everything") {
      expect(got).toContain("*");
      for (const m of runtime.graph.models) expect(got).toContain(`m:${m}`);
    } else expect(sorted(got)).toEqual(sorted(bumps));
  });
});
