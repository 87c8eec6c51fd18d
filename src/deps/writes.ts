/**
 * What a write bumps: the written model, every model touched by nested
 * writes, models that referential actions may change, and configured tags.
 * @module
 */
import { modelDep, tagDep, type RelationGraph } from "./graph.js";

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
const NESTED = new Set(["create", "createMany", "connect", "connectOrCreate", "disconnect", "set", "update", "updateMany", "upsert", "delete", "deleteMany", "data", "where"]);

function walkData(graph: RelationGraph, model: string, node: unknown, out: Set<string>): void {
  if (node === null || typeof node !== "object") return;
  if (Array.isArray(node)) {
    for (const item of node) walkData(graph, model, item, out);
    return;
  }
  for (const key in node) {
    const value = (node as Record<string, unknown>)[key];
    const target = graph.target(model, key);
    if (target !== undefined) {
      out.add(target);
      walkData(graph, target, value, out);
    } else if (NESTED.has(key)) {
      walkData(graph, model, value, out);
    }
  }
}

/** Models a write may change. */
export function writeModels(graph: RelationGraph, model: string, operation: string, args: Record<string, unknown> | undefined): string[] {
  const out = new Set<string>([model]);
  if (args) {
    walkData(graph, model, args.data, out);
    walkData(graph, model, args.create, out);
    walkData(graph, model, args.update, out);
  }
  // Referential actions (onDelete Cascade / SetNull / SetDefault, onUpdate Cascade)
  // can change rows of related models.
  if (operation === "delete" || operation === "deleteMany") for (const m of graph.reachable(model)) out.add(m);
  else if (operation.startsWith("update") || operation === "upsert") for (const m of graph.neighbors(model)) out.add(m);
  return [...out];
}

/** Dependency ids a write bumps. */
export function writeDeps(
  graph: RelationGraph,
  model: string,
  operation: string,
  args: Record<string, unknown> | undefined,
  tagsOf: (model: string) => readonly string[],
): string[] {
  const deps = new Set<string>();
  for (const m of writeModels(graph, model, operation, args)) {
    deps.add(modelDep(m));
    for (const t of tagsOf(m)) deps.add(tagDep(t));
  }
  return [...deps];
}
