/**
 * What a write bumps: the written model and its rows, every model touched by
 * nested writes, models that referential actions change, and configured tags.
 * @module
 */
import type { RelationGraph } from "./graph.js";
import { bulkDep, modelDep, newRowDep, tagDep } from "./ids.js";
import { modelsForTables, type SqlDialect, tablesWritten } from "./raw-sql.js";
import { Changes, changesOf } from "./changes.js";
import type { Relations } from "./relations.js";
import type { RowKeys } from "./rows.js";
import { affectedByDelete, affectedByUpdate, type RelationFacts } from "./schema.js";

/** Top-level write operations. */
export const WRITE_OPERATIONS = new Set([
  "create",
  "createMany",
  "createManyAndReturn",
  "update",
  "updateMany",
  "updateManyAndReturn",
  "upsert",
  "delete",
  "deleteMany",
]);

/** Keys of a nested write whose value is read in the related model's context. */
const NESTED = new Set([
  "create",
  "createMany",
  "connect",
  "connectOrCreate",
  "disconnect",
  "set",
  "update",
  "updateMany",
  "upsert",
  "delete",
  "deleteMany",
  "data",
  "where",
]);

/** Nested operations that only add or remove links, never write the related rows themselves. */
const LINK_ONLY = new Set(["connect", "disconnect", "set"]);

/**
 * Models reached by nested writes in `node` (a `data`, `create` or `update`
 * object): "link" when only the rows of an implicit many-to-many join table
 * change (connect, disconnect, set), "rows" when rows of the model itself may.
 */
function nestedModels(ctx: WriteContext, model: string, node: unknown, out: Map<string, "link" | "rows">): void {
  if (node === null || typeof node !== "object") return;
  if (Array.isArray(node)) {
    for (const item of node) nestedModels(ctx, model, item, out);
    return;
  }
  for (const key in node) {
    const value = (node as Record<string, unknown>)[key];
    const target = ctx.graph.target(model, key);
    if (target !== undefined) {
      const joinOnly = isJoinRelation(ctx, model, key) && value !== null && typeof value === "object" && Object.keys(value).every((k) => LINK_ONLY.has(k));
      if (!joinOnly) out.set(target, "rows");
      else if (!out.has(target)) out.set(target, "link");
      nestedActions(ctx, target, value, out);
      nestedModels(ctx, target, value, out);
    } else if (NESTED.has(key) && !LINK_ONLY.has(key)) {
      nestedModels(ctx, model, value, out);
    }
  }
}

/**
 * The referential actions of the nested writes on `target` in `ops` (the
 * value of a relation field): a nested `delete` / `deleteMany` cascades (or
 * sets null) as a top-level delete does, and a nested `update` /
 * `updateMany` / `upsert` of a referenced field as a top-level update does.
 */
function nestedActions(ctx: WriteContext, target: string, ops: unknown, out: Map<string, "link" | "rows">): void {
  if (ops === null || typeof ops !== "object" || Array.isArray(ops)) return;
  const o = ops as Record<string, unknown>;
  if ((o.delete !== undefined && o.delete !== false) || o.deleteMany !== undefined) for (const m of deleteReaches(ctx, target)) out.set(m, "rows");
  const fields = new Set<string>();
  for (const key of ["update", "updateMany", "upsert"] as const) {
    const v = o[key];
    for (const item of Array.isArray(v) ? v : v === undefined ? [] : [v]) {
      if (item === null || typeof item !== "object") continue;
      const w = item as Record<string, unknown>;
      // `upsert: { create, update }`; `update: { where, data }` (to-many, or to-one with a filter) or the data itself (to-one):
      // both readings are taken, so a field is never missed (an unknown name moves nothing).
      for (const data of key === "upsert" ? [w.update] : [w, w.data]) for (const f of scalarKeys(ctx.graph, target, data)) fields.add(f);
    }
  }
  if (fields.size > 0) for (const m of updateReaches(ctx, target, [...fields])) out.set(m, "rows");
}

/** Models a delete of `model`'s rows changes through referential actions (every reachable one without the schema). */
const deleteReaches = (ctx: WriteContext, model: string): string[] => (ctx.facts ? affectedByDelete(ctx.facts, model) : ctx.graph.reachable(model));

/** Models an update of `fields` of `model` changes through referential actions (every neighbour without the schema). */
const updateReaches = (ctx: WriteContext, model: string, fields: readonly string[]): string[] =>
  ctx.facts ? affectedByUpdate(ctx.facts, model, fields) : ctx.graph.neighbors(model);

/** Whether a relation field is an implicit many-to-many relation (its links live in a join table). */
function isJoinRelation(ctx: WriteContext, model: string, field: string): boolean {
  const name = ctx.graph.relationName(model, field);
  return name !== undefined && !!ctx.facts?.joinTables.some((j) => j.relationName === name);
}

/** Scalar fields set by an update's data (relation fields excluded). */
function scalarKeys(graph: RelationGraph, model: string, data: unknown): string[] {
  if (data === null || typeof data !== "object") return [];
  const keys = new Set<string>();
  for (const row of Array.isArray(data) ? data : [data]) for (const k in row as object) if (graph.target(model, k) === undefined) keys.add(k);
  return [...keys];
}

/** Everything the write path needs to know about the schema. */
export interface WriteContext {
  graph: RelationGraph;
  rows: RowKeys;
  /** Parsed schema, or undefined (then referential actions are assumed on every related model). */
  facts: RelationFacts | undefined;
  /** The relation links of the parsed schema: with them, writes bump precisely (changes.ts); without, by model. */
  relations?: Relations | undefined;
  tagsOf(model: string): readonly string[];
}

/** Collects dependency ids, adding each model's tags with it. */
class Bumps {
  readonly out = new Set<string>();
  constructor(private readonly ctx: WriteContext) {}

  /** Any rows of `model`, unnamed: list reads, row reads and "not found" reads all go stale. */
  bulk(model: string): void {
    this.model(model);
    this.out.add(bulkDep(model));
    this.out.add(newRowDep(model));
  }

  model(model: string): void {
    this.out.add(modelDep(model));
    for (const t of this.ctx.tagsOf(model)) this.out.add(tagDep(t));
  }

  /** One result row: its row id, or the whole model when the row has no id field. */
  row(model: string, row: unknown): void {
    const dep = this.ctx.rows.ofRow(model, row);
    if (dep) this.out.add(dep);
    else this.out.add(bulkDep(model));
  }

  rows(model: string, result: unknown): void {
    if (Array.isArray(result)) for (const r of result) this.row(model, r);
    else this.out.add(bulkDep(model));
  }
}

/**
 * Dependency ids a write bumps once it has run. `result` is what Prisma
 * returned; rows it names are bumped one by one, anything else in bulk.
 */
export function writeDeps(ctx: WriteContext, model: string, operation: string, args: Record<string, unknown> | undefined, result: unknown): string[] {
  if (ctx.relations) return precise(ctx, ctx.relations, model, operation, args, result);
  const b = new Bumps(ctx);
  b.model(model);
  const data = args?.data;
  const wherePk = ctx.rows.ofWhere(model, args?.where);
  if (wherePk) b.out.add(wherePk);
  switch (operation) {
    case "create":
    case "upsert":
      b.out.add(newRowDep(model));
      b.row(model, result);
      break;
    case "createMany":
      // New rows whose ids are unknown: cached "not found" lookups by primary key go stale too.
      b.bulk(model);
      break;
    case "createManyAndReturn":
      b.out.add(newRowDep(model));
      b.rows(model, result);
      break;
    case "update":
      b.row(model, result);
      break;
    case "updateManyAndReturn":
      b.rows(model, result);
      break;
    case "delete":
      b.row(model, result);
      break;
    default: // updateMany, deleteMany: rows unknown
      b.out.add(bulkDep(model));
  }
  if (operation.startsWith("update") || operation === "upsert") {
    const changes = operation === "upsert" ? args?.update : data;
    if (ctx.rows.touchesUniqueFields(model, changes)) b.out.add(newRowDep(model));
  }
  addSideEffects(b, sideEffects(ctx, model, operation, args));
  return [...b.out];
}

/**
 * Dependency ids to bump before a write runs inside an interactive
 * transaction (pre-invalidation): what the arguments name, in bulk.
 */
export function writeDepsBefore(ctx: WriteContext, model: string, operation: string, args: Record<string, unknown> | undefined): string[] {
  if (ctx.relations) return precise(ctx, ctx.relations, model, operation, args, undefined);
  const b = new Bumps(ctx);
  const wherePk = ctx.rows.ofWhere(model, args?.where);
  if (operation === "create" || operation === "createManyAndReturn") {
    // New rows: only cached "not found" lookups and lists can hold them.
    b.model(model);
    b.out.add(newRowDep(model));
  } else if (wherePk && (operation === "update" || operation === "delete" || operation === "upsert")) {
    b.model(model);
    b.out.add(wherePk);
    const changes = operation === "upsert" ? args?.update : args?.data;
    if (operation === "upsert" || ctx.rows.touchesUniqueFields(model, changes)) b.out.add(newRowDep(model));
  } else {
    b.bulk(model);
  }
  addSideEffects(b, sideEffects(ctx, model, operation, args));
  return [...b.out];
}

/** {@link writeDeps} with the relation links known: precise bumps (changes.ts). */
function precise(
  ctx: WriteContext,
  relations: Relations,
  model: string,
  operation: string,
  args: Record<string, unknown> | undefined,
  result: unknown,
): string[] {
  const c = new Changes(relations, ctx.rows, ctx.tagsOf);
  changesOf(c, ctx.rows, model, operation, args, result);
  return [...c.out];
}

/**
 * Whether {@link writeDepsBefore} is exactly what the write bumps once it
 * ran (an update or delete by primary key), so that the write may bump it
 * while it runs without invalidating more than it changes.
 */
export function knownBefore(ctx: WriteContext, model: string, operation: string, args: Record<string, unknown> | undefined): boolean {
  return (operation === "update" || operation === "delete") && ctx.rows.ofWhere(model, args?.where) !== undefined;
}

/**
 * Models other than the written one that change, through nested writes and
 * referential actions: "rows" when their rows may change, "link" when only
 * their implicit many-to-many links do.
 */
function sideEffects(ctx: WriteContext, model: string, operation: string, args: Record<string, unknown> | undefined): Map<string, "link" | "rows"> {
  const out = new Map<string, "link" | "rows">();
  if (args) {
    nestedModels(ctx, model, args.data, out);
    nestedModels(ctx, model, args.create, out);
    nestedModels(ctx, model, args.update, out);
  }
  let referenced: string[] = [];
  if (operation === "delete" || operation === "deleteMany") {
    referenced = deleteReaches(ctx, model);
  } else if (operation.startsWith("update") || operation === "upsert") {
    referenced = updateReaches(ctx, model, scalarKeys(ctx.graph, model, operation === "upsert" ? args?.update : args?.data));
  }
  for (const m of referenced) out.set(m, "rows");
  return out;
}

/** Adds the side effects of a write to `b`. */
function addSideEffects(b: Bumps, effects: Map<string, "link" | "rows">): void {
  for (const [m, kind] of effects) {
    if (kind === "rows") b.bulk(m);
    else b.model(m);
  }
}

/**
 * Dependency ids `$executeRaw` SQL bumps: the models behind the tables it
 * writes (through `@@map` and implicit many-to-many join tables), with their
 * referential actions. SQL it cannot parse, or a table that is no model's,
 * bumps the whole namespace.
 *
 * @param dialect The SQL dialect, by Prisma provider name (`"postgresql"`, `"mysql"` for MySQL and MariaDB, `"sqlite"`).
 */
export function rawWriteDeps(ctx: WriteContext, sql: string, dialect: SqlDialect = "postgresql"): string[] {
  const facts = ctx.facts;
  const written = facts ? tablesWritten(sql, dialect) : undefined;
  if (!facts || !written) return [...ctx.graph.everything];
  const b = new Bumps(ctx);
  const c = ctx.relations && new Changes(ctx.relations, ctx.rows, ctx.tagsOf);
  for (const t of written.tables) {
    const models = modelsForTables([t], facts.models, facts.joinTables);
    if (!models) return [...ctx.graph.everything];
    const join = facts.joinTables.find((j) => (t.quoted ? j.table === t.name : j.table.toLowerCase() === t.name.toLowerCase()));
    if (join && c) {
      // Links of a join table: the join table's own dependencies, not its models' rows.
      c.link(join, join.models[0], undefined, undefined);
      continue;
    }
    for (const m of models) {
      if (join) {
        b.model(m);
        continue;
      }
      if (c) c.bulk(m);
      b.bulk(m);
      let referenced: string[] = [];
      if (t.op === "delete" || t.op === "truncate" || written.cascade) referenced = affectedByDelete(facts, m);
      else if (t.op !== "insert") {
        const columns = facts.models[m]?.columns ?? {};
        // MySQL and SQLite column names ignore case (they are reported unquoted, as the SQL spells them).
        const key = (column: string): string => (dialect === "postgresql" ? column : column.toLowerCase());
        const byColumn = new Map(Object.entries(columns).map(([field, column]) => [key(column), field]));
        const fields = t.columns ? t.columns.map((c) => byColumn.get(key(c.name)) ?? c.name) : Object.keys(columns);
        referenced = affectedByUpdate(facts, m, fields);
      }
      for (const r of referenced) {
        if (c) c.bulk(r);
        b.bulk(r);
      }
    }
  }
  if (c) for (const d of c.out) b.out.add(d);
  return [...b.out];
}
