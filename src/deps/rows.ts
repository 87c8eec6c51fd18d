/**
 * Row-level dependencies: a unique lookup depends on its row (by primary
 * key), and a write to one row bumps that row alone. The ids are made in ids.ts.
 * @module
 */
import { isDecimal } from "../value-types.js";
import { modelDep, newRowDep, rowDep } from "./ids.js";
import type { ModelFacts, RelationFacts } from "./schema.js";

/** What the cache can tell about a model's rows: its primary key and unique keys. */
export class RowKeys {
  constructor(private readonly facts: RelationFacts | undefined) {}

  /** Whether row-level dependencies are available for `model` (it has an id and the schema was parsed). */
  has(model: string): boolean {
    return !!this.facts?.models[model]?.id?.length;
  }

  private model(model: string): ModelFacts | undefined {
    return this.facts?.models[model];
  }

  /**
   * For a unique lookup by a key other than the primary key: the dependency
   * the result adds (its row, or "a row may appear" when none was found).
   * One function per model.
   */
  lateDeps(model: string): (value: unknown) => readonly string[] {
    let f = this.late.get(model);
    if (f === undefined) {
      f = (value) => (value === null ? [newRowDep(model)] : [this.ofRow(model, value) ?? modelDep(model)]);
      this.late.set(model, f);
    }
    return f;
  }

  private readonly late = new Map<string, (value: unknown) => readonly string[]>();

  /** Row dependency id of a result row, or undefined if the row lacks a primary-key field. */
  ofRow(model: string, row: unknown): string | undefined {
    const id = this.model(model)?.id;
    if (!id || row === null || typeof row !== "object") return undefined;
    const values: unknown[] = [];
    for (const f of id) {
      const v = (row as Record<string, unknown>)[f];
      if (v === undefined || v === null) return undefined;
      values.push(v);
    }
    return rowDep(model, values);
  }

  /**
   * The row a `WhereUniqueInput` names by primary key, or undefined when it
   * names it by another unique key (or is not a unique lookup at all).
   */
  ofWhere(model: string, where: unknown): string | undefined {
    const values = this.idOfWhere(model, where);
    return values && rowDep(model, values);
  }

  /** The primary-key values a `WhereUniqueInput` names, in id-field order, or undefined (see {@link ofWhere}). */
  idOfWhere(model: string, where: unknown): unknown[] | undefined {
    const facts = this.model(model);
    if (!facts?.id || where === null || typeof where !== "object") return undefined;
    const w = where as Record<string, unknown>;
    const id = facts.id;
    if (id.length === 1) {
      const v = w[id[0]!];
      return isKeyValue(v) ? [v] : undefined;
    }
    for (const [name, fields] of Object.entries(facts.compoundKeys)) {
      if (!sameFields(fields, id)) continue;
      const c = w[name];
      if (c === null || typeof c !== "object") continue;
      const values = id.map((f) => (c as Record<string, unknown>)[f]);
      if (values.every(isKeyValue)) return values;
    }
    return undefined;
  }

  /** The primary-key fields of `model`, or undefined. */
  idFields(model: string): readonly string[] | undefined {
    return this.model(model)?.id ?? undefined;
  }

  /**
   * The `where` of the canonical find-by-primary-key lookup of a row
   * (`{ id: 5 }`, or `{ userId_groupId: { userId, groupId } }`), or undefined.
   */
  whereOf(model: string, row: unknown): Record<string, unknown> | undefined {
    const facts = this.model(model);
    const id = facts?.id;
    if (!id || row === null || typeof row !== "object") return undefined;
    const r = row as Record<string, unknown>;
    if (id.some((f) => r[f] === undefined || r[f] === null)) return undefined;
    if (id.length === 1) return { [id[0]!]: r[id[0]!] };
    const name = Object.entries(facts.compoundKeys).find(([, fields]) => sameFields(fields, id))?.[0];
    return name ? { [name]: Object.fromEntries(id.map((f) => [f, r[f]])) } : undefined;
  }

  /** Whether `data` of an update sets a primary-key or unique field of `model`. */
  touchesUniqueFields(model: string, data: unknown): boolean {
    const facts = this.model(model);
    if (!facts) return true;
    if (data === null || typeof data !== "object") return false;
    const rows = Array.isArray(data) ? data : [data];
    for (const row of rows) {
      for (const key in row as Record<string, unknown>) {
        if (facts.id?.includes(key) || facts.uniques.some((u) => u.includes(key))) return true;
      }
    }
    return false;
  }
}

/** A value Prisma accepts as a unique key's value (not a filter object). */
function isKeyValue(v: unknown): boolean {
  if (v === null || v === undefined) return false;
  const t = typeof v;
  if (t === "string" || t === "number" || t === "bigint" || t === "boolean") return true;
  return v instanceof Date || v instanceof Uint8Array || (t === "object" && isDecimal(v as object));
}

function sameFields(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((f, i) => f === b[i]);
}
