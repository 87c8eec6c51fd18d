/**
 * How each relation field links its two models, from the parsed schema: the
 * side that holds the foreign key, the side whose rows the foreign key
 * points at, or an implicit many-to-many join table. Reads and writes both
 * ask it which value dependencies a link makes.
 * @module
 */
import type { RelationGraph } from "./graph.js";
import { anyValueDep, valueDep, valueText } from "./ids.js";
import type { ForeignKey, JoinTable, RelationFacts } from "./schema.js";

/** A relation field as seen from the model that declares it. */
export type RelationLink =
  /** This model holds the foreign key (`Post.author`): the related row is the one the key points at. */
  | { readonly kind: "holder"; readonly target: string; readonly fk: ForeignKey }
  /** The related model holds the foreign key (`User.posts`, `User.profile`): its rows whose key equals this row's referenced fields. */
  | { readonly kind: "child"; readonly target: string; readonly fk: ForeignKey; readonly list: boolean }
  /** An implicit many-to-many relation: rows linked through `join`. */
  | { readonly kind: "join"; readonly target: string; readonly join: JoinTable };

/** One side of a foreign key as a value dependency: its model and the fields joined by ",". */
export interface KeyColumns {
  readonly model: string;
  readonly fields: string;
}

/** Relation links of every model, and the foreign keys each model holds. */
export class Relations {
  private readonly links = new Map<string, RelationLink | null>();
  private readonly held = new Map<string, ForeignKey[]>();
  private readonly joins = new Map<string, JoinTable[]>();

  constructor(
    private readonly graph: RelationGraph,
    readonly facts: RelationFacts,
  ) {
    for (const fk of facts.relations) {
      const list = this.held.get(fk.model);
      if (list) list.push(fk);
      else this.held.set(fk.model, [fk]);
    }
    for (const j of facts.joinTables) {
      for (const m of new Set(j.models)) {
        const list = this.joins.get(m);
        if (list) list.push(j);
        else this.joins.set(m, [j]);
      }
    }
  }

  /** How `model.field` links, or undefined when it is not a relation field (or its kind cannot be told). */
  link(model: string, field: string): RelationLink | undefined {
    const id = `${model}.${field}`;
    let l = this.links.get(id);
    if (l === undefined) this.links.set(id, (l = this.find(model, field) ?? null));
    return l ?? undefined;
  }

  private find(model: string, field: string): RelationLink | undefined {
    const target = this.graph.target(model, field);
    if (target === undefined) return undefined;
    const own = this.held.get(model)?.find((fk) => fk.field === field);
    if (own) return { kind: "holder", target, fk: own };
    const name = this.graph.relationName(model, field);
    const join = this.facts.joinTables.find((j) => j.relationName === name);
    if (join) return { kind: "join", target, join };
    const other = this.held.get(target)?.find((fk) => fk.relationName === name && fk.target === model && !(fk.model === model && fk.field === field));
    if (!other) return undefined;
    const list = this.facts.models[model]?.fields.find((f) => f.name === field)?.list ?? false;
    return { kind: "child", target, fk: other, list };
  }

  /** The foreign keys `model` holds. */
  foreignKeys(model: string): readonly ForeignKey[] {
    return this.held.get(model) ?? [];
  }

  /** The implicit many-to-many join tables `model` takes part in. */
  joinTables(model: string): readonly JoinTable[] {
    return this.joins.get(model) ?? [];
  }

  /** The scalar fields of `model` that Prisma sets on every update (`@updatedAt`). */
  updatedAtFields(model: string): readonly string[] {
    let f = this.updatedAt.get(model);
    if (f === undefined) this.updatedAt.set(model, (f = this.facts.models[model]?.fields.filter((x) => x.updatedAt).map((x) => x.name) ?? []));
    return f;
  }

  private readonly updatedAt = new Map<string, readonly string[]>();

  /** The model a relation field points to, or undefined for a scalar field. */
  target(model: string, field: string): string | undefined {
    return this.graph.target(model, field);
  }

  /** Whether `field` is a scalar (or enum) field of `model`. */
  isScalar(model: string, field: string): boolean {
    return this.facts.models[model]?.columns[field] !== undefined;
  }
}

/** The value dependency of a foreign key's fields holding `values`, or the "unknown value" one when any is not known. */
export function keyDep(cols: KeyColumns, values: readonly unknown[] | undefined): string {
  if (values === undefined) return anyValueDep(cols.model, cols.fields);
  const texts: string[] = [];
  for (const v of values) {
    const t = valueText(v);
    if (t === undefined) return anyValueDep(cols.model, cols.fields);
    texts.push(t);
  }
  return valueDep(cols.model, cols.fields, texts.join(","));
}

/** The columns of a foreign key on the model that holds it. */
export const fkColumns = (fk: ForeignKey): KeyColumns => ({ model: fk.model, fields: fk.fields.join(",") });

/**
 * The column of a join table that references `model`, as a value
 * dependency's columns: named by the model, so that on a self-relation both
 * columns share it (a link then bumps both rows' sides; coarser, never wrong).
 */
export const joinColumns = (join: JoinTable, model: string): KeyColumns => ({ model: join.table, fields: model });

/** The values of `fields` in `row`, or undefined when one is missing. */
export function valuesOf(row: unknown, fields: readonly string[]): unknown[] | undefined {
  if (row === null || typeof row !== "object") return undefined;
  const out: unknown[] = [];
  for (const f of fields) {
    const v = (row as Record<string, unknown>)[f];
    if (v === undefined) return undefined;
    out.push(v);
  }
  return out;
}
