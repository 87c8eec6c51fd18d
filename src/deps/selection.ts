/**
 * Precise dependencies of a read: what could change its result, at every
 * level of its includes.
 *
 * A result changes when a row it holds changes, or when the set or order of
 * the rows it selects does. So a read depends on:
 * - every row it returned, at every level (`r:`), taken from the result;
 * - for each selection, the fields it reads (`f:Model.field`: `where`,
 *   `orderBy`, `cursor`, `distinct`, `by`, `having`, aggregated fields),
 *   which an update of those fields bumps;
 * - for the rows a selection may gain or lose by a create or a delete: the
 *   value of a foreign key it selects by (`v:Post.authorId:#5`: a
 *   conjunction `where: { authorId: 5 }`, or the include `user.posts`), or
 *   else the model's row set (`s:`);
 * - rows changed by writes that do not name them (`b:`), for everything.
 *
 * What it cannot make precise (a relation filter, an order by a relation, a
 * model without an id, more rows at a level than the bound) depends on the
 * whole model (`m:`), as every read did before. Dependencies known only from
 * the result are recorded after the query; while it runs, the fill is
 * guarded by the models whose rows it records (any write to them refuses it).
 * @module
 */
import { bulkDep, fieldDep, modelDep, newRowDep, rowSetDep } from "./ids.js";
import { fkColumns, joinColumns, type KeyColumns, keyDep, type RelationLink, type Relations, valuesOf } from "./relations.js";
import type { RowKeys } from "./rows.js";
import { type KeyedSelect, selectKeys } from "./select-keys.js";

/** What a read depends on: known before it runs, guarded while it runs, and found in its result. */
export interface ReadShape {
  /** Recorded with the entry, known before the query. */
  readonly deps: string[];
  /** Checked by the fill, not recorded: the models whose rows are recorded from the result. */
  readonly guards: string[] | undefined;
  /** Dependencies found in the result; undefined when every dependency is known before. */
  readonly late: ((value: unknown) => readonly string[]) | undefined;
}

/** A relation of a level whose dependencies come from each parent row. */
interface Branch {
  /** The key of the related rows in a parent row (the relation field, or `_count`). */
  readonly field: string;
  /**
   * The columns whose value (the parent row's `parentFields`) selects the
   * related rows (`child` and `join` links, and counts); undefined for a
   * to-one relation this side holds (the related row is recorded itself).
   */
  readonly columns: KeyColumns | undefined;
  readonly parentFields: readonly string[];
  /** The related model, and its join table's model token for a many-to-many. */
  readonly fallback: readonly string[];
  /** The related rows, when they are returned (not for counts). */
  readonly level: Level | undefined;
  /** For a to-one relation this side holds: a missing row may appear (a dangling key). */
  readonly newRow: string | undefined;
  /** For `_count`: the counted relations, by name. */
  readonly counts: readonly Branch[] | undefined;
}

/** One level of a read's result: rows of one model, returned by one selection. */
interface Level {
  readonly model: string;
  /** The rows' primary-key fields, or undefined when they are not in every row (then the level depends on its model). */
  readonly rows: boolean;
  readonly branches: readonly Branch[];
}

/** What a selection's arguments read, while they are walked. */
class Reading {
  /** Fields read only as a conjunction of equalities (`where: { authorId: 5 }`), with the values. */
  readonly equal = new Map<string, unknown[]>();
  /** Fields read otherwise. */
  readonly other = new Set<string>();
  /** Whether a part could not be made precise (then the selection depends on its model). */
  coarse = false;
}

/** How a filter joins its selection: "and" fixes the rows by its equalities, "or" does not. */
type Join = "and" | "or";

const ARRAY_OR_ONE = (v: unknown): unknown[] => (Array.isArray(v) ? v : v === undefined ? [] : [v]);

/** Works out read shapes. One per cache runtime. */
export class ReadDependencies {
  constructor(
    private readonly relations: Relations,
    private readonly rows: RowKeys,
    /** Rows per level past which a level depends on its model instead. */
    private readonly maxRows: number,
  ) {}

  /** A read's arguments with the primary keys its `select`s leave out (select-keys.ts), or undefined. */
  keyed(model: string, args: Record<string, unknown> | undefined): KeyedSelect | undefined {
    return selectKeys(this.relations, model, args);
  }

  /**
   * The shape of a model read.
   * @param pk For a unique lookup by primary key: the row's dependency (known before).
   */
  read(model: string, operation: string, args: Record<string, unknown> | undefined, pk: string | undefined): ReadShape {
    const deps = new Set<string>([bulkDep(model)]);
    const guards = new Set<string>();
    const a = args ?? {};
    if (operation === "count" || operation === "aggregate" || operation === "groupBy") {
      this.selection(model, a, deps, { operation, rowsFollow: false });
      return { deps: [...deps], guards: undefined, late: undefined };
    }
    // By primary key: the row itself, known before. Otherwise a selection, whose rows are found in the result.
    if (pk !== undefined) {
      deps.add(pk);
      // Its other filters are on the row itself, but a relation filter reads other rows.
      const r = new Reading();
      this.where(model, a.where, r, "and", deps);
      if (r.coarse) deps.add(modelDep(model));
    } else this.selection(model, a, deps, { operation, rowsFollow: true });
    const unique = operation === "findUnique";
    const level = this.level(model, a, deps, guards, { rowsLate: pk === undefined });
    if (level === undefined) return { deps: [...deps], guards: undefined, late: undefined };
    const late = (value: unknown): readonly string[] => {
      const out = new Set<string>();
      // A unique lookup that found nothing: a row may appear (created, or given the key by an update).
      if (unique && value === null) out.add(newRowDep(model));
      this.collect(level, value, out);
      for (const d of deps) out.delete(d);
      return [...out];
    };
    return { deps: [...deps], guards: [...guards], late };
  }

  /**
   * Dependencies of one selection of `model` (top level): the fields it
   * reads, and its row-set dependency (a foreign-key value, or the model's).
   * `rowsFollow`: the result's rows are recorded, so a row that leaves the
   * selection by a change of an equality field is caught by its row.
   */
  private selection(
    model: string,
    args: Record<string, unknown>,
    deps: Set<string>,
    { operation, rowsFollow }: { operation: string; rowsFollow: boolean },
  ): void {
    const r = new Reading();
    this.where(model, args.where, r, "and", deps);
    this.readArgs(model, args, r, deps);
    if (operation === "groupBy") {
      for (const f of ARRAY_OR_ONE(args.by)) this.field(model, f, r);
      this.where(model, args.having, r, "or", deps);
    }
    if (operation === "count" && typeof args.select === "object" && args.select !== null) this.flags(model, args.select, r);
    if (operation === "aggregate" || operation === "groupBy") for (const agg of ["_count", "_sum", "_avg", "_min", "_max"]) this.flags(model, args[agg], r);
    const covered = rowsFollow && args.skip === undefined && args.cursor === undefined;
    // A unique lookup gains no row by another row's create: the one it finds, or "not found" (late), stands for it.
    this.finish(model, r, deps, { covered, implicit: operation === "findUnique" });
  }

  /**
   * Adds the dependencies a walked selection reads. `covered`: its rows are
   * recorded, so a row that leaves it by a change of a foreign key it
   * selects by is caught by its row. `implicit`: an include, whose row set
   * is given by its parent's key (no model-wide row-set dependency).
   */
  private finish(model: string, r: Reading, deps: Set<string>, { covered, implicit }: { covered: boolean; implicit: boolean }): void {
    if (r.coarse) {
      deps.add(modelDep(model));
      return;
    }
    for (const f of r.other) deps.add(fieldDep(model, f));
    // Each foreign key the selection fixes by equality: a row that takes one of its values (created, or moved) bumps that value.
    const keyed = new Set<string>();
    for (const fk of this.relations.foreignKeys(model)) {
      const values = fk.fields.map((f) => r.equal.get(f));
      if (values.some((v) => v === undefined) || (fk.fields.length > 1 && values.some((v) => v!.length !== 1))) continue;
      const cols = fkColumns(fk);
      deps.add(keyDep(cols, undefined));
      if (fk.fields.length === 1) for (const v of values[0]!) deps.add(keyDep(cols, [v]));
      else
        deps.add(
          keyDep(
            cols,
            values.map((v) => v![0]),
          ),
        );
      for (const f of fk.fields) keyed.add(f);
    }
    if (keyed.size === 0 && !implicit) deps.add(rowSetDep(model));
    for (const f of r.equal.keys()) if (!covered || !keyed.has(f)) deps.add(fieldDep(model, f));
  }

  /** orderBy, cursor and distinct. */
  private readArgs(model: string, args: Record<string, unknown>, r: Reading, deps: Set<string>): void {
    for (const o of ARRAY_OR_ONE(args.orderBy)) {
      if (o === null || typeof o !== "object") continue;
      for (const key in o) {
        const v = (o as Record<string, unknown>)[key];
        if (this.relations.isScalar(model, key)) r.other.add(key);
        else if (key === "_relevance" && v !== null && typeof v === "object")
          for (const f of ARRAY_OR_ONE((v as { fields?: unknown }).fields)) this.field(model, f, r);
        else this.coarsen(model, key, v, r, deps);
      }
    }
    if (args.cursor !== undefined) this.unique(model, args.cursor, r);
    for (const f of ARRAY_OR_ONE(args.distinct)) this.field(model, f, r);
  }

  /**
   * Walks a `where` (or `having`): scalar fields read, equalities of a
   * conjunction, relation filters. `join`: how the filter joins the
   * selection ("and" at the top and under `AND`; "or" under `OR` or `NOT`,
   * and in `having`, where an equality does not fix the rows).
   */
  private where(model: string, where: unknown, r: Reading, join: Join, deps: Set<string>): void {
    if (where === null || typeof where !== "object") return;
    for (const key in where) {
      const v = (where as Record<string, unknown>)[key];
      if (v === undefined) continue;
      if (key === "AND") for (const w of ARRAY_OR_ONE(v)) this.where(model, w, r, join, deps);
      else if (key === "OR" || key === "NOT") for (const w of ARRAY_OR_ONE(v)) this.where(model, w, r, "or", deps);
      else if (this.relations.isScalar(model, key)) {
        const eq = join === "and" ? equalValues(v) : undefined;
        if (eq !== undefined && !r.other.has(key)) {
          const had = r.equal.get(key);
          // Two equalities on one field: keep the first (the selection is empty unless they agree, and a row of it holds the first).
          if (had === undefined) r.equal.set(key, eq);
        } else {
          r.other.add(key);
          r.equal.delete(key);
        }
      } else if (this.compound(model, key)) {
        for (const f of this.compound(model, key)!) r.other.add(f);
      } else {
        this.coarsen(model, key, v, r, deps);
      }
    }
  }

  /**
   * A relation filter or order: the selection depends on every model (and
   * join table) the filter reaches, and, when its model holds the foreign
   * key, on that key's fields. Its own rows are read as by any other
   * filter: a write to them that sets none of the fields it reads leaves it
   * as it was. Anything unknown: the selection depends on its model.
   */
  private coarsen(model: string, key: string, v: unknown, r: Reading, deps: Set<string>): void {
    const link = this.relations.link(model, key);
    if (!link) {
      r.coarse = true;
      return;
    }
    this.reach(link.target, v, deps);
    if (link.kind === "join") deps.add(modelDep(link.join.table));
    if (link.kind === "holder")
      for (const f of link.fk.fields) {
        r.other.add(f);
        r.equal.delete(f);
      }
  }

  /** Models (and join tables) a relation filter reaches, each as a model dependency. */
  private reach(model: string, node: unknown, deps: Set<string>): void {
    deps.add(modelDep(model));
    if (node === null || typeof node !== "object") return;
    for (const item of Array.isArray(node) ? node : [node]) {
      if (item === null || typeof item !== "object") continue;
      for (const key in item) {
        const v = (item as Record<string, unknown>)[key];
        const link = this.relations.link(model, key);
        const target = link?.target ?? this.relations.target(model, key);
        if (target !== undefined) {
          if (link?.kind === "join") deps.add(modelDep(link.join.table));
          this.reach(target, v, deps);
        } else if (RELATION_FILTER_KEYS.has(key)) {
          this.reach(model, v, deps);
        }
      }
    }
  }

  private compound(model: string, key: string): readonly string[] | undefined {
    return this.relations.facts.models[model]?.compoundKeys[key];
  }

  /** Fields of a `WhereUniqueInput` (a cursor). */
  private unique(model: string, where: unknown, r: Reading): void {
    if (where === null || typeof where !== "object") return;
    for (const key in where) {
      const c = this.compound(model, key);
      if (c) for (const f of c) r.other.add(f);
      else if (this.relations.isScalar(model, key)) r.other.add(key);
      else r.coarse = true;
    }
  }

  private field(model: string, f: unknown, r: Reading): void {
    if (typeof f === "string" && this.relations.isScalar(model, f)) r.other.add(f);
    else r.coarse = true;
  }

  /** `{ field: true, _all: true }` of an aggregate: the fields it reads. */
  private flags(model: string, node: unknown, r: Reading): void {
    if (node === null || typeof node !== "object") return;
    for (const key in node) if (key !== "_all" && (node as Record<string, unknown>)[key]) this.field(model, key, r);
  }

  /**
   * The level of `model`'s rows and what its relations need: static parts
   * go to `deps` and `guards` at once. `rowsLate`: the rows are recorded
   * from the result (not a lookup by primary key). Undefined when nothing
   * is found in the result.
   */
  private level(model: string, args: Record<string, unknown>, deps: Set<string>, guards: Set<string>, { rowsLate }: { rowsLate: boolean }): Level | undefined {
    const rows = this.rows.has(model) && this.rowsSelected(model, args);
    if (rowsLate) {
      guards.add(modelDep(model));
      if (!rows) deps.add(modelDep(model));
    }
    const branches: Branch[] = [];
    for (const part of [args.include, args.select]) {
      if (part === null || typeof part !== "object") continue;
      for (const key in part) {
        const v = (part as Record<string, unknown>)[key];
        if (v === false || v === undefined) continue;
        if (key === "_count") {
          const b = this.counts(model, v, deps, guards);
          if (b) branches.push(b);
          continue;
        }
        const link = this.relations.link(model, key);
        if (link) branches.push(this.branch(model, link, key, v, deps, guards));
        // A relation whose link the schema does not tell: the models it reaches, as a whole.
        else if (this.relations.target(model, key) !== undefined) this.reach(this.relations.target(model, key)!, v, deps);
      }
    }
    if (!rowsLate && branches.length === 0) return undefined;
    return { model, rows: rows && rowsLate, branches };
  }

  /** Whether every row of the level carries its primary key (a `select` may leave it out). */
  private rowsSelected(model: string, args: Record<string, unknown>): boolean {
    const id = this.relations.facts.models[model]?.id;
    if (!id) return false;
    const select = args.select;
    if (select !== null && typeof select === "object") return id.every((f) => (select as Record<string, unknown>)[f] === true);
    const omit = args.omit;
    if (omit !== null && typeof omit === "object") return id.every((f) => !(omit as Record<string, unknown>)[f]);
    return true;
  }

  /** A relation of a level: static dependencies now, its level for the rows. */
  private branch(model: string, link: RelationLink, field: string, v: unknown, deps: Set<string>, guards: Set<string>): Branch {
    const target = link.target;
    const args = v !== null && typeof v === "object" ? (v as Record<string, unknown>) : {};
    deps.add(bulkDep(target));
    if (link.kind === "holder") {
      const level = this.level(target, args, deps, guards, { rowsLate: true });
      return { field, columns: undefined, parentFields: link.fk.fields, fallback: [modelDep(target)], level, newRow: newRowDep(target), counts: undefined };
    }
    const r = new Reading();
    this.where(target, args.where, r, "and", deps);
    this.readArgs(target, args, r, deps);
    const columns = link.kind === "child" ? fkColumns(link.fk) : joinColumns(link.join, model);
    const parentFields = link.kind === "child" ? link.fk.references : (this.relations.facts.models[model]?.id ?? []);
    // The rows of an included selection are recorded: a row that leaves by a change of its key is caught by its row.
    this.finish(target, r, deps, { covered: args.skip === undefined && args.cursor === undefined, implicit: true });
    deps.add(keyDep(columns, undefined));
    const fallback = [modelDep(target)];
    if (link.kind === "join") {
      guards.add(modelDep(link.join.table));
      fallback.push(modelDep(link.join.table));
    }
    const level = this.level(target, args, deps, guards, { rowsLate: true });
    return { field, columns, parentFields, fallback, level, newRow: undefined, counts: undefined };
  }

  /** `_count: true` or `_count: { select: { posts: true | { where } } }` of a level. */
  private counts(model: string, v: unknown, deps: Set<string>, guards: Set<string>): Branch | undefined {
    const counted: Branch[] = [];
    const select = v === true ? undefined : (v as { select?: unknown }).select;
    const fields =
      v === true
        ? (this.relations.facts.models[model]?.fields ?? []).filter((f) => f.kind === "object" && f.list).map((f) => [f.name, true] as const)
        : select !== null && typeof select === "object"
          ? Object.entries(select as Record<string, unknown>)
          : [];
    for (const [field, arg] of fields) {
      if (!arg) continue;
      const link = this.relations.link(model, field);
      const target = link?.target;
      if (!link || link.kind === "holder" || target === undefined) {
        deps.add(modelDep(model));
        continue;
      }
      deps.add(bulkDep(target));
      const r = new Reading();
      if (arg !== null && typeof arg === "object") this.where(target, (arg as { where?: unknown }).where, r, "and", deps);
      const columns = link.kind === "child" ? fkColumns(link.fk) : joinColumns(link.join, model);
      // A count holds no rows: a row that leaves by a change of its key is caught by the key's field.
      this.finish(target, r, deps, { covered: false, implicit: true });
      if (link.kind === "child") for (const f of link.fk.fields) deps.add(fieldDep(target, f));
      deps.add(keyDep(columns, undefined));
      const fallback = [modelDep(target)];
      guards.add(modelDep(target));
      if (link.kind === "join") {
        guards.add(modelDep(link.join.table));
        fallback.push(modelDep(link.join.table));
      }
      const parentFields = link.kind === "child" ? link.fk.references : (this.relations.facts.models[model]?.id ?? []);
      counted.push({ field, columns, parentFields, fallback, level: undefined, newRow: undefined, counts: undefined });
    }
    if (counted.length === 0) return undefined;
    return { field: "_count", columns: undefined, parentFields: [], fallback: [], level: undefined, newRow: undefined, counts: counted };
  }

  /**
   * Adds what the rows of `level` in `value` depend on. `seen` counts rows
   * per level; past the bound a level depends on its model. `coarse`: the
   * parent level passed the bound, so its branches' values are not recorded one by one.
   */
  private collect(level: Level, value: unknown, out: Set<string>, seen = new Map<Level, number>(), coarse = false): void {
    const list = Array.isArray(value) ? value : value === null || value === undefined ? [] : [value];
    for (const row of list) {
      if (row === null || typeof row !== "object") continue;
      let over = coarse;
      if (level.rows) {
        const n = (seen.get(level) ?? 0) + 1;
        seen.set(level, n);
        if (n > this.maxRows) over = true;
        const dep = over ? undefined : this.rows.ofRow(level.model, row);
        out.add(dep ?? modelDep(level.model));
      }
      for (const b of level.branches) this.collectBranch(b, row as Record<string, unknown>, out, seen, over);
    }
  }

  private collectBranch(b: Branch, row: Record<string, unknown>, out: Set<string>, seen: Map<Level, number>, over: boolean): void {
    if (b.counts) {
      for (const c of b.counts) this.collectBranch(c, row, out, seen, over);
      return;
    }
    const related = row[b.field];
    if (b.columns !== undefined) {
      const values = over ? undefined : valuesOf(row, b.parentFields);
      if (values === undefined) for (const d of b.fallback) out.add(d);
      else out.add(keyDep(b.columns, values));
    } else if (related === null && b.newRow !== undefined) {
      // A null key is the parent row's own; a key that points at no row (no foreign key in the database) waits for the row to appear.
      const key = valuesOf(row, b.parentFields);
      if (key === undefined || key.some((v) => v !== null)) out.add(b.newRow);
    }
    if (b.level !== undefined && related !== undefined) this.collect(b.level, related, out, seen, over);
  }
}

/** Keys of a relation filter whose value is read in the related model's context. */
const RELATION_FILTER_KEYS = new Set(["some", "every", "none", "is", "isNot", "AND", "OR", "NOT", "where", "_count"]);

/** The values an equality filter compares with (`5`, `{ equals: 5 }`, `{ in: [5, 6] }`), or undefined for any other filter. */
function equalValues(v: unknown): unknown[] | undefined {
  if (v === null || typeof v !== "object" || v instanceof Date) return [v];
  if (Array.isArray(v)) return undefined;
  const keys = Object.keys(v);
  if (keys.length !== 1) return undefined;
  const o = v as Record<string, unknown>;
  if (keys[0] === "equals" && (o.equals === null || typeof o.equals !== "object")) return [o.equals];
  if (keys[0] === "in" && Array.isArray(o.in) && o.in.length > 0 && o.in.every((x) => x === null || typeof x !== "object")) return o.in;
  return undefined;
}
