/**
 * What a read depends on: the model it reads, every model reached through
 * include, relation select, _count, relation filters and relation orderBy,
 * its tags, and the whole-namespace dependency.
 * @module
 */
import type { RelationGraph } from "./graph.js";
import { bulkDep, modelDep, tagDep } from "./ids.js";

/** Keys whose value is read in the same model's context. */
const STRUCTURAL = new Set([
  "where",
  "include",
  "select",
  "omit",
  "orderBy",
  "having",
  "cursor",
  "_count",
  "AND",
  "OR",
  "NOT",
  "some",
  "every",
  "none",
  "is",
  "isNot",
]);

function walk(graph: RelationGraph, model: string, node: unknown, out: Set<string>): void {
  if (node === null || typeof node !== "object") return;
  if (Array.isArray(node)) {
    for (const item of node) walk(graph, model, item, out);
    return;
  }
  for (const key in node) {
    const value = (node as Record<string, unknown>)[key];
    const target = graph.target(model, key);
    if (target !== undefined) {
      if (value === false || value === undefined) continue;
      out.add(target);
      walk(graph, target, value, out);
    } else if (STRUCTURAL.has(key)) {
      walk(graph, model, value, out);
    }
  }
}

/** Models a read reaches through relations (its own model only through a self-relation). */
export function reachedModels(graph: RelationGraph, model: string, args: unknown): Set<string> {
  const out = new Set<string>();
  walk(graph, model, args, out);
  return out;
}

/**
 * Dependency ids of a read known before it runs: its own model
 * (as `m:M`, or as `b:M` for a row lookup whose row ids come separately),
 * every model reached through relations, `dependsOn` models, and tags.
 */
export function readDeps(
  graph: RelationGraph,
  model: string,
  args: unknown,
  tags: readonly string[],
  dependsOn: (model: string) => readonly string[],
  rowLookup = false,
): string[] {
  const deps = new Set<string>([rowLookup ? bulkDep(model) : modelDep(model)]);
  for (const d of dependsOn(model)) deps.add(modelDep(d));
  for (const m of reachedModels(graph, model, args)) {
    deps.add(modelDep(m));
    for (const d of dependsOn(m)) deps.add(modelDep(d));
  }
  for (const t of tags) deps.add(tagDep(t));
  return [...deps];
}
