/**
 * What a write bumps, precisely (the counterpart of selection.ts): the rows
 * it changed, the fields an update set, the foreign-key values of rows it
 * created, deleted or moved, and the links it added or removed. A link
 * change (`connect`, `disconnect`, `set`) is a change of the link only: the
 * row that holds the foreign key (or the join table), never the connected
 * rows nor their models. Rows it cannot name (bulk writes, nested writes
 * whose rows Prisma does not return) make their model stale as a whole.
 * @module
 */
import { bulkDep, fieldDep, modelDep, newRowDep, rowDep, rowSetDep, tagDep } from "./ids.js";
import { fkColumns, joinColumns, keyDep, type Relations, valuesOf } from "./relations.js";
import type { RowKeys } from "./rows.js";
import { affectedByDelete, affectedByUpdate, type ForeignKey, type JoinTable } from "./schema.js";

type Data = Record<string, unknown>;

/** Link changes bump the join tables' own dependencies, so the partners in implicit many-to-many relations stay out. */
const NO_JOIN_PARTNERS = { joinPartners: false } as const;
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : v === undefined || v === null || v === false ? [] : [v]);
const isObject = (v: unknown): v is Data => v !== null && typeof v === "object" && !Array.isArray(v);
/** Whether two column values read from the log are the same (dates by time, buffers and objects by content). */
function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a instanceof Date && b instanceof Date) return a.getTime() === b.getTime();
  if (Buffer.isBuffer(a) && Buffer.isBuffer(b)) return a.equals(b);
  if (typeof a === "object" && typeof b === "object" && a !== null && b !== null) return JSON.stringify(a) === JSON.stringify(b);
  return false;
}
/** The entries of an update's data that set a value outright (not `{ increment }` and the like, nor relations). */
const setOutright = (data: Data): Data => Object.fromEntries(Object.entries(data).filter(([, v]) => v === null || typeof v !== "object" || v instanceof Date));

/** Collects what one write bumps. */
export class Changes {
  readonly out = new Set<string>();

  constructor(
    private readonly relations: Relations,
    private readonly rows: RowKeys,
    private readonly tagsOf: (model: string) => readonly string[],
  ) {}

  /** Any write to `model`: its model-wide dependency (what reads that could not be made precise depend on) and its tags. */
  model(model: string): void {
    this.out.add(modelDep(model));
    for (const t of this.tagsOf(model)) this.out.add(tagDep(t));
  }

  /** Rows of `model` that the write does not name changed (or were created, or deleted): everything of the model. */
  bulk(model: string): void {
    this.model(model);
    this.out.add(bulkDep(model));
    this.out.add(newRowDep(model));
    this.out.add(rowSetDep(model));
    for (const j of this.relations.joinTables(model)) this.links(j, undefined, undefined);
  }

  /** Links of join table `j` changed: between `a` (of its first model) and `b`, or rows whose values are not known. */
  private links(j: JoinTable, a: readonly unknown[] | undefined, b: readonly unknown[] | undefined): void {
    this.out.add(modelDep(j.table));
    this.out.add(keyDep(joinColumns(j, j.models[0]), a));
    this.out.add(keyDep(joinColumns(j, j.models[1]), b));
  }

  /** A link of `j` between `model`'s row `own` and the partner's row `other` was added or removed. */
  link(j: JoinTable, model: string, own: readonly unknown[] | undefined, other: readonly unknown[] | undefined): void {
    if (j.models[0] === j.models[1]) {
      // A self-relation: both columns share one dependency name, so both values are bumped on it.
      this.links(j, own, own);
      this.links(j, other, other);
    } else if (j.models[0] === model) this.links(j, own, other);
    else this.links(j, other, own);
  }

  /** The foreign-key value dependencies of `fk` for a row: from the row, else from the write's data, else "not known". */
  private keys(fk: ForeignKey, row: unknown, data: Data | undefined): void {
    this.out.add(keyDep(fkColumns(fk), valuesOf(row, fk.fields) ?? this.keyFromData(fk, data)));
  }

  /** A foreign key's values as the write's data sets them (scalars, or `connect` by the referenced fields). */
  private keyFromData(fk: ForeignKey, data: Data | undefined): unknown[] | undefined {
    if (!data) return undefined;
    const scalars = valuesOf(data, fk.fields);
    if (scalars?.every((v) => v === null || typeof v !== "object")) return scalars;
    const rel = data[fk.field];
    if (!isObject(rel)) return undefined;
    if (rel.disconnect === true) return fk.fields.map(() => null);
    const connect = rel.connect;
    if (!isObject(connect) || Object.keys(connect).length !== fk.references.length) return undefined;
    const values = valuesOf(connect, fk.references);
    return values?.every((v) => v === null || typeof v !== "object") ? values : undefined;
  }

  /** A row of `model` was created: `row` is it when known (else everything of the model goes stale). */
  created(model: string, row: unknown, data: Data | undefined): void {
    this.model(model);
    this.out.add(newRowDep(model));
    this.out.add(rowSetDep(model));
    const dep = this.rows.ofRow(model, row);
    if (dep) this.out.add(dep);
    else this.bulk(model);
    for (const fk of this.relations.foreignKeys(model)) this.keys(fk, row, data);
  }

  /** A row of `model` was deleted: `row` is it when returned, `id` its primary key when named. */
  deleted(model: string, row: unknown, id: readonly unknown[] | undefined): void {
    this.model(model);
    this.out.add(rowSetDep(model));
    const idFields = this.rows.idFields(model);
    const ids = (idFields && valuesOf(row, idFields)) ?? id;
    const dep = this.rows.ofRow(model, row) ?? (ids && rowDep(model, ids));
    if (dep) this.out.add(dep);
    else this.bulk(model);
    for (const fk of this.relations.foreignKeys(model)) this.keys(fk, row, undefined);
    // Its links go with it; the partners' values are not known.
    for (const j of this.relations.joinTables(model)) this.link(j, model, ids, undefined);
    for (const m of affectedByDelete(this.relations.facts, model, NO_JOIN_PARTNERS)) this.bulk(m);
  }

  /**
   * A row of `model` was updated with `data`: `row` is the row after it when
   * returned, `id` its primary key when named (else everything of the model
   * goes stale).
   */
  updated(model: string, row: unknown, id: readonly unknown[] | undefined, data: unknown): void {
    const d = isObject(data) ? data : undefined;
    const fields = this.fieldsSet(model, d);
    // Only link changes (many-to-many, or rows that hold the key elsewhere) and nested writes: the row itself is as it was.
    if (fields.size === 0) {
      for (const t of this.tagsOf(model)) this.out.add(tagDep(t));
      return;
    }
    this.model(model);
    const idFields = this.rows.idFields(model);
    const named = id && rowDep(model, id);
    const after = this.rows.ofRow(model, row);
    const moved = idFields?.some((f) => fields.has(f)) ?? true;
    // The row before (named by the write) and after (returned); a primary key that moved without being returned: the new row from the data.
    const afterFromData =
      moved && after === undefined && d && idFields
        ? this.rows.ofRow(model, { ...Object.fromEntries(idFields.map((f, i) => [f, id?.[i]])), ...setOutright(d) })
        : undefined;
    if (named) this.out.add(named);
    if (after) this.out.add(after);
    if (afterFromData) this.out.add(afterFromData);
    if (!named && !after) this.bulk(model);
    else if (moved && !after && !afterFromData) this.bulk(model);
    this.setFields(model, fields, row, d);
    if (this.rows.touchesUniqueFields(model, d)) this.out.add(newRowDep(model));
    for (const m of affectedByUpdate(this.relations.facts, model, [...fields], NO_JOIN_PARTNERS)) this.bulk(m);
    if (moved) for (const j of this.relations.joinTables(model)) this.link(j, model, undefined, undefined);
  }

  /**
   * A row change read from the database's own log (the change feed), by
   * field name: `old` is the row before (every field when `oldComplete`,
   * else its key or nothing), `now` the row after. It bumps what an app
   * write of that row bumps, and the foreign-key values the row left when
   * they are known. Referential actions need nothing here: the log carries
   * the rows they change as changes of their own.
   */
  logged(model: string, kind: "insert" | "update" | "delete", old: Data | undefined, oldComplete: boolean, now: Data | undefined): void {
    if (kind === "insert") {
      this.created(model, now, undefined);
      return;
    }
    const before = this.rows.ofRow(model, old);
    const fks = this.relations.foreignKeys(model);
    if (kind === "delete") {
      this.model(model);
      this.out.add(rowSetDep(model));
      if (before) this.out.add(before);
      else this.bulk(model);
      for (const fk of fks) this.out.add(keyDep(fkColumns(fk), oldComplete ? valuesOf(old, fk.fields) : undefined));
      const ids = valuesOf(old, this.rows.idFields(model) ?? []);
      for (const j of this.relations.joinTables(model)) this.link(j, model, ids, undefined);
      return;
    }
    const columns = Object.keys(this.relations.facts.models[model]?.columns ?? {});
    // Without the whole old row, any field may have changed.
    const changed = oldComplete && old && now ? columns.filter((f) => f in now && !sameValue(old[f], now[f])) : columns;
    if (changed.length === 0) return;
    this.model(model);
    const after = this.rows.ofRow(model, now);
    if (before) this.out.add(before);
    if (after) this.out.add(after);
    if (!before && !after) this.bulk(model);
    const fields = new Set(changed);
    for (const f of fields) this.out.add(fieldDep(model, f));
    for (const fk of fks) {
      if (!fk.fields.some((f) => fields.has(f))) continue;
      this.out.add(keyDep(fkColumns(fk), valuesOf(now, fk.fields)));
      this.out.add(keyDep(fkColumns(fk), oldComplete ? valuesOf(old, fk.fields) : undefined));
    }
    if (this.rows.touchesUniqueFields(model, Object.fromEntries(changed.map((f) => [f, now?.[f]])))) this.out.add(newRowDep(model));
    const moved = this.rows.idFields(model)?.some((f) => fields.has(f)) ?? true;
    if (moved) for (const j of this.relations.joinTables(model)) this.link(j, model, undefined, undefined);
  }

  /** A link of join table `j` was added or removed, as the log tells it: `a` and `b` are its two columns' values (undefined: not known). */
  loggedLink(j: JoinTable, a: readonly unknown[] | undefined, b: readonly unknown[] | undefined): void {
    this.links(j, a, b);
  }

  /** The fields an update set, and the foreign-key values a row took (the values it left are not known: the fields stand for them). */
  private setFields(model: string, fields: ReadonlySet<string>, row: unknown, data: Data | undefined): void {
    for (const f of fields) this.out.add(fieldDep(model, f));
    for (const fk of this.relations.foreignKeys(model)) if (fk.fields.some((f) => fields.has(f))) this.keys(fk, row, data);
  }

  /**
   * A row of `model` (named by `id`, else not known) took `values` (or
   * values not known) in foreign key `fk`: a link made or removed from the
   * other side (`user.posts: { connect }`).
   */
  private movedKey(model: string, id: readonly unknown[] | undefined, fk: ForeignKey, values: readonly unknown[] | undefined): void {
    this.model(model);
    const dep = id && rowDep(model, id);
    if (dep) this.out.add(dep);
    else this.bulk(model);
    for (const f of fk.fields) this.out.add(fieldDep(model, f));
    this.out.add(keyDep(fkColumns(fk), values));
    for (const f of this.relations.updatedAtFields(model)) this.out.add(fieldDep(model, f));
    for (const m of affectedByUpdate(this.relations.facts, model, fk.fields, NO_JOIN_PARTNERS)) this.bulk(m);
  }

  /** Scalar fields an update's data sets: its own, the foreign keys of relations it connects or disconnects, and then its `@updatedAt` fields. */
  private fieldsSet(model: string, data: Data | undefined): Set<string> {
    const out = new Set<string>();
    if (!data) return out;
    for (const key in data) {
      if (data[key] === undefined) continue;
      if (this.relations.isScalar(model, key)) out.add(key);
      else {
        const link = this.relations.link(model, key);
        if (link?.kind === "holder") {
          const ops = data[key];
          // `update` of the related row leaves the key as it is; anything else may move it.
          if (!isObject(ops) || Object.keys(ops).some((k) => k !== "update")) for (const f of link.fk.fields) out.add(f);
        } else if (link === undefined && this.relations.target(model, key) !== undefined) {
          for (const f of Object.keys(this.relations.facts.models[model]?.columns ?? {})) out.add(f);
        }
      }
    }
    // Prisma sets `@updatedAt` fields when it updates the row, not for an update of links or nested rows alone.
    if (out.size > 0) for (const f of this.relations.updatedAtFields(model)) out.add(f);
    return out;
  }

  /**
   * The nested writes in `data` of a write to `model`, whose row (after the
   * write) is `parent` when known. Each relation is walked in the related
   * model's context, at any depth.
   */
  nested(model: string, parent: unknown, data: unknown): void {
    if (!isObject(data)) return;
    for (const key in data) {
      const ops = data[key];
      if (!isObject(ops)) continue;
      const link = this.relations.link(model, key);
      if (link === undefined) {
        // A relation the schema does not tell: its model as a whole.
        const target = this.relations.target(model, key);
        if (target !== undefined) this.bulk(target);
        continue;
      }
      const target = link.target;
      if (link.kind === "holder") this.nestedHolder(link.fk, target, parent, ops);
      else if (link.kind === "child") this.nestedChild(link.fk, target, link.list, parent, ops);
      else this.nestedJoin(link.join, model, target, parent, ops);
    }
  }

  /** Creates of `target` rows Prisma does not return, with their own nested writes. */
  private createdUnknown(target: string, items: unknown, forced?: { fk: ForeignKey; values: unknown[] | undefined }): void {
    for (const item of list(items)) {
      const data = isObject(item) ? item : undefined;
      this.created(target, undefined, data);
      if (forced) this.out.add(keyDep(fkColumns(forced.fk), forced.values));
      this.nested(target, undefined, data);
    }
  }

  /** Nested writes on a relation `model` holds the foreign key of (`post.author`). The key itself moves with the parent's own update. */
  private nestedHolder(fk: ForeignKey, target: string, parent: unknown, ops: Data): void {
    this.createdUnknown(target, ops.create);
    if (isObject(ops.connectOrCreate)) this.createdUnknown(target, ops.connectOrCreate.create);
    // The related row is the one the parent's key points at (when it points at the primary key).
    const id = this.rows.idFields(target);
    const child = id && id.length === fk.references.length && id.every((f, i) => fk.references[i] === f) ? valuesOf(parent, fk.fields) : undefined;
    const childId = child?.every((v) => v !== null) ? child : undefined;
    if (ops.update !== undefined) {
      const u = isObject(ops.update) && isObject(ops.update.data) ? ops.update.data : ops.update;
      this.updated(target, undefined, childId, u);
      this.nested(target, undefined, u);
    }
    if (isObject(ops.upsert)) {
      this.createdUnknown(target, ops.upsert.create);
      this.updated(target, undefined, childId, ops.upsert.update);
      this.nested(target, undefined, ops.upsert.update);
    }
    if (ops.delete !== undefined && ops.delete !== false) this.deleted(target, undefined, childId);
  }

  /** Nested writes on a relation whose related rows hold the foreign key (`user.posts`, `user.profile`). */
  private nestedChild(fk: ForeignKey, target: string, many: boolean, parent: unknown, ops: Data): void {
    const ref = valuesOf(parent, fk.references);
    // The row's key moves: its row, its key's field, and the value it takes.
    const moved = (where: unknown, values: unknown[] | undefined): void =>
      this.movedKey(target, where === true ? undefined : this.rows.idOfWhere(target, where), fk, values);
    this.createdUnknown(target, ops.create, { fk, values: ref });
    if (isObject(ops.createMany)) this.createdUnknown(target, ops.createMany.data, { fk, values: ref });
    for (const c of list(ops.connectOrCreate)) {
      if (!isObject(c)) continue;
      this.createdUnknown(target, c.create, { fk, values: ref });
      moved(c.where, ref);
    }
    if (ops.set !== undefined) {
      // The rows that held the parent's key are not known.
      this.bulk(target);
      this.out.add(keyDep(fkColumns(fk), ref));
    }
    for (const w of list(ops.connect)) moved(w, ref);
    for (const w of list(ops.disconnect))
      moved(
        w,
        fk.fields.map(() => null),
      );
    // A to-one relation replaced by another row leaves the previous one: not known.
    if (!many && (ops.connect !== undefined || ops.create !== undefined || ops.connectOrCreate !== undefined)) this.bulk(target);
    for (const u of list(ops.update)) {
      const pair = isObject(u) && isObject(u.data) ? u : { where: undefined, data: u };
      const id = this.rows.idOfWhere(target, (pair as Data).where);
      this.updated(target, undefined, id, (pair as Data).data);
      this.nested(target, undefined, (pair as Data).data);
    }
    for (const u of list(ops.upsert)) {
      if (!isObject(u)) continue;
      this.createdUnknown(target, u.create, { fk, values: ref });
      this.updated(target, undefined, this.rows.idOfWhere(target, u.where), u.update);
      this.nested(target, undefined, u.update);
    }
    for (const d of list(ops.delete)) this.deleted(target, undefined, d === true ? undefined : this.rows.idOfWhere(target, d));
    if (ops.updateMany !== undefined || ops.deleteMany !== undefined) {
      this.bulk(target);
      if (ops.deleteMany !== undefined) for (const m of affectedByDelete(this.relations.facts, target, NO_JOIN_PARTNERS)) this.bulk(m);
      for (const u of list(ops.updateMany)) {
        const fields = isObject(u) && isObject(u.data) ? Object.keys(u.data) : [];
        for (const m of affectedByUpdate(this.relations.facts, target, fields, NO_JOIN_PARTNERS)) this.bulk(m);
      }
    }
  }

  /** Nested writes on an implicit many-to-many relation: link changes bump the join table only. */
  private nestedJoin(j: JoinTable, model: string, target: string, parent: unknown, ops: Data): void {
    const own = valuesOf(parent, this.rows.idFields(model) ?? []);
    const idOf = (where: unknown) => this.rows.idOfWhere(target, where);
    for (const c of list(ops.create)) {
      this.createdUnknown(target, c);
      this.link(j, model, own, undefined);
    }
    for (const c of list(ops.connectOrCreate)) {
      if (!isObject(c)) continue;
      this.createdUnknown(target, c.create);
      this.link(j, model, own, idOf(c.where));
    }
    for (const w of list(ops.connect)) this.link(j, model, own, idOf(w));
    for (const w of list(ops.disconnect)) this.link(j, model, own, idOf(w));
    if (ops.set !== undefined) {
      this.link(j, model, own, undefined);
      for (const w of list(ops.set)) this.link(j, model, own, idOf(w));
    }
    for (const u of list(ops.update)) {
      if (!isObject(u)) continue;
      this.updated(target, undefined, idOf(u.where), u.data);
      this.nested(target, undefined, u.data);
    }
    for (const u of list(ops.upsert)) {
      if (!isObject(u)) continue;
      this.createdUnknown(target, u.create);
      this.link(j, model, own, idOf(u.where));
      this.updated(target, undefined, idOf(u.where), u.update);
      this.nested(target, undefined, u.update);
    }
    for (const d of list(ops.delete)) this.deleted(target, undefined, idOf(d));
    if (ops.updateMany !== undefined) this.bulk(target);
    if (ops.deleteMany !== undefined) {
      this.bulk(target);
      for (const m of affectedByDelete(this.relations.facts, target, NO_JOIN_PARTNERS)) this.bulk(m);
    }
  }
}

/**
 * What a model write bumps. `result` is what Prisma returned, or undefined
 * before the write ran (then only what its arguments name is known).
 */
export function changesOf(c: Changes, rows: RowKeys, model: string, operation: string, args: Data | undefined, result: unknown): void {
  const data = args?.data;
  const id = rows.idOfWhere(model, args?.where);
  // The parent row of nested writes: the result, else what the arguments name.
  const idFields = rows.idFields(model);
  const parent = isObject(result) ? result : id && idFields ? Object.fromEntries(idFields.map((f, i) => [f, id[i]])) : undefined;
  switch (operation) {
    case "create":
      c.created(model, result, isObject(data) ? data : undefined);
      c.nested(model, parent, data);
      break;
    case "createManyAndReturn":
      if (Array.isArray(result)) for (const row of result) c.created(model, row, undefined);
      else c.bulk(model);
      break;
    case "update":
      c.updated(model, result, id, data);
      c.nested(model, parent, data);
      break;
    case "updateManyAndReturn":
      if (Array.isArray(result)) for (const row of result) c.updated(model, row, undefined, data);
      else c.updated(model, undefined, undefined, data);
      break;
    case "upsert":
      c.created(model, result, isObject(args?.create) ? args.create : undefined);
      c.updated(model, result, id, args?.update);
      c.nested(model, parent, args?.create);
      c.nested(model, parent, args?.update);
      break;
    case "delete":
      c.deleted(model, result, id);
      break;
    case "updateMany":
      // Rows not known: the updated() of no row is everything of the model, with the referential actions of its fields.
      c.updated(model, undefined, undefined, data);
      break;
    case "deleteMany":
      // Rows not known: the deleted() of no row is everything of the model, with its links and referential actions.
      c.deleted(model, undefined, undefined);
      break;
    default: // createMany: rows not known
      c.bulk(model);
  }
}
