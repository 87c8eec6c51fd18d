/**
 * From what the database's log says (tables, columns, values as the driver
 * decodes them) to what the cache bumps: each table is a model (by `@@map`)
 * or an implicit many-to-many join table, each column a field (by `@map`),
 * and each value takes the type Prisma gives that field, so that a row
 * change bumps the very ids an app write of that row bumps (deps/changes.ts).
 * @module
 */
import { Changes } from "../deps/changes.js";
import { bulkDep, modelDep, newRowDep, tagDep } from "../deps/ids.js";
import type { Relations } from "../deps/relations.js";
import type { RowKeys } from "../deps/rows.js";
import type { JoinTable, ModelFacts } from "../deps/schema.js";
import type { FeedEvent, RowEvent } from "./source.js";

type Row = Record<string, unknown>;

/** A table the cache knows: a model's (with its column → field names), or a join table's. */
type Table = { model: ModelFacts; fields: Map<string, { name: string; type: string }> } | { join: JoinTable; types: [string, string] };

/** What the translator needs of the runtime. */
export interface TranslatorContext {
  /** The schema's relation facts and keys; without them (row-level dependencies off), every change makes its model stale. */
  readonly relations: Relations | undefined;
  readonly rows: RowKeys;
  /** The tags of a model (a write to it bumps them). */
  readonly tagsOf: (model: string) => readonly string[];
  /** Model → table, when the schema could not be read. */
  readonly tables: ReadonlyMap<string, string>;
  /** The ids that make every entry of the namespace stale. */
  readonly everything: readonly string[];
}

/** Turns log events into the dependency ids to bump. */
export class FeedTranslator {
  private readonly byTable = new Map<string, Table>();
  private readonly modelOfTable = new Map<string, string>();

  constructor(private readonly ctx: TranslatorContext) {
    const facts = ctx.relations?.facts;
    if (facts) {
      for (const model of Object.values(facts.models)) {
        if (model.view) continue;
        const fields = new Map<string, { name: string; type: string }>();
        for (const f of model.fields) if (f.column !== null) fields.set(f.column, { name: f.name, type: f.type });
        this.byTable.set(model.dbName ?? model.name, { model, fields });
      }
      for (const join of facts.joinTables) {
        const idType = (m: string) => {
          const model = facts.models[m];
          const id = model?.id?.[0];
          return model?.fields.find((f) => f.name === id)?.type ?? "String";
        };
        this.byTable.set(join.table, { join, types: [idType(join.models[0]), idType(join.models[1])] });
      }
    }
    for (const [model, table] of ctx.tables) this.modelOfTable.set(table, model);
  }

  /** Whether the cache knows `table` (others are skipped: a source may read only these). */
  knows(table: string): boolean {
    return this.byTable.has(table) || this.modelOfTable.has(table);
  }

  /** The tables the cache knows, as the database names them. */
  get tableNames(): string[] {
    return [...new Set([...this.byTable.keys(), ...this.modelOfTable.keys()])];
  }

  /** The dependency ids `events` bump, together. */
  deps(events: readonly FeedEvent[]): string[] {
    const relations = this.ctx.relations;
    const out = new Set<string>();
    const c = relations ? new Changes(relations, this.ctx.rows, this.ctx.tagsOf) : undefined;
    for (const e of events) {
      if (e.kind === "everything") {
        for (const d of this.ctx.everything) out.add(d);
      } else if (e.kind === "tables") {
        for (const t of e.tables) this.wholeTable(t.table, c, out);
      } else {
        const table = this.byTable.get(e.table);
        if (!c || !table) this.wholeTable(e.table, c, out);
        else if ("join" in table) this.link(c, table.join, table.types, e);
        else c.logged(table.model.name, e.kind, this.row(table.fields, e.old), e.oldComplete, this.row(table.fields, e.new));
      }
    }
    if (c) for (const d of c.out) out.add(d);
    return [...out];
  }

  /** Every row of `table` may have changed. */
  private wholeTable(table: string, c: Changes | undefined, out: Set<string>): void {
    const known = this.byTable.get(table);
    if (c && known) {
      if ("join" in known) c.loggedLink(known.join, undefined, undefined);
      else c.bulk(known.model.name);
      return;
    }
    const model = this.modelOfTable.get(table);
    if (model === undefined) return;
    out.add(modelDep(model));
    out.add(bulkDep(model));
    out.add(newRowDep(model));
    for (const t of this.ctx.tagsOf(model)) out.add(tagDep(t));
  }

  /** A join table's row: a link added or removed (both, for an update). */
  private link(c: Changes, join: JoinTable, types: [string, string], e: RowEvent): void {
    for (const row of [e.old, e.new]) {
      if (!row) continue;
      const a = row.A === undefined ? undefined : [typed(row.A, types[0])];
      const b = row.B === undefined ? undefined : [typed(row.B, types[1])];
      c.loggedLink(join, a, b);
    }
    // A delete without the old row: which link went is not known.
    if (!e.old && !e.new) c.loggedLink(join, undefined, undefined);
  }

  /** A logged row by field name, its values typed as Prisma types them. */
  private row(fields: Map<string, { name: string; type: string }>, raw: Readonly<Row> | undefined): Row | undefined {
    if (!raw) return undefined;
    const out: Row = {};
    for (const column in raw) {
      const f = fields.get(column);
      if (f && raw[column] !== undefined) out[f.name] = typed(raw[column], f.type);
    }
    return out;
  }
}

/** A value as the driver decoded it, in the type Prisma gives a field of type `type` (what dependency ids are made of). */
export function typed(v: unknown, type: string): unknown {
  if (v === null || v === undefined) return v;
  switch (type) {
    case "Int":
    case "Float":
      return typeof v === "string" || typeof v === "bigint" ? Number(v) : v;
    case "BigInt":
      return typeof v === "string" || typeof v === "number" ? BigInt(v) : v;
    case "String":
      return Buffer.isBuffer(v) ? v.toString("utf8") : typeof v === "number" || typeof v === "bigint" ? String(v) : v;
    case "Boolean":
      return typeof v === "number" ? v !== 0 : v === "t" || v === "true" ? true : v === "f" || v === "false" ? false : v;
    case "DateTime":
      return typeof v === "string" || typeof v === "number" ? new Date(v) : v;
    default:
      return v;
  }
}
