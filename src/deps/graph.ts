/**
 * The relation graph, read from the generated client's runtime data model.
 * @module
 */
import { everythingDeps } from "./ids.js";

/** The shape of `client._runtimeDataModel` the cache relies on. */
export interface RuntimeDataModel {
  models: Record<string, { fields: readonly { name: string; kind: string; type: string; relationName?: string }[]; dbName?: string | null }>;
}

/** Models and their relation fields. */
export class RelationGraph {
  /** Model names, as in the schema. */
  readonly models: readonly string[];
  private readonly relations = new Map<string, Map<string, string>>();
  private readonly relationNames = new Map<string, string>();
  private readonly byLowerName = new Map<string, string>();
  private readonly tables = new Map<string, string>();

  constructor(dataModel: RuntimeDataModel) {
    this.models = Object.keys(dataModel.models);
    for (const [name, model] of Object.entries(dataModel.models)) {
      const rel = new Map<string, string>();
      for (const f of model.fields) {
        if (f.kind !== "object") continue;
        rel.set(f.name, f.type);
        if (f.relationName) this.relationNames.set(`${name}.${f.name}`, f.relationName);
      }
      this.relations.set(name, rel);
      this.tables.set(name, model.dbName ?? name);
      this.byLowerName.set(name.charAt(0).toLowerCase() + name.slice(1), name);
    }
  }

  /** The database table of a model (`@@map`, else the model name). */
  tableOf(model: string): string {
    return this.tables.get(model) ?? model;
  }

  /** The model a relation field points to, or undefined for a scalar field. */
  target(model: string, field: string): string | undefined {
    return this.relations.get(model)?.get(field);
  }

  /** The relation name of a relation field. */
  relationName(model: string, field: string): string | undefined {
    return this.relationNames.get(`${model}.${field}`);
  }

  /** Names of the relation fields of `model`. */
  relationFields(model: string): string[] {
    return [...(this.relations.get(model)?.keys() ?? [])];
  }

  /** Models directly related to `model`. */
  neighbors(model: string): string[] {
    return [...new Set(this.relations.get(model)?.values() ?? [])];
  }

  /** Models reachable from `model` through relations, `model` included. */
  reachable(model: string): string[] {
    const seen = new Set<string>([model]);
    const queue = [model];
    while (queue.length) for (const n of this.neighbors(queue.pop()!)) if (!seen.has(n)) seen.add(n), queue.push(n);
    return [...seen];
  }

  /**
   * Dependency ids that make every entry of the namespace stale: each model's
   * "any row", "unnamed rows" and "new row" versions, and `*` (reads that name
   * no model). Bumped by `invalidateAll()` and by raw SQL that cannot be parsed.
   */
  get everything(): readonly string[] {
    return (this.everythingMemo ??= everythingDeps(this.models));
  }

  private everythingMemo: readonly string[] | undefined;

  /** The schema name of a model from its client property name (`user` -> `User`). */
  modelName(property: string): string | undefined {
    return this.byLowerName.get(property);
  }
}
