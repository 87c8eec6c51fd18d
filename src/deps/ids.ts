/**
 * Dependency ids: the names of the version counters cached entries depend
 * on and writes bump. Every id is made here, so that each prefix has one home.
 *
 * | id | bumped when |
 * | --- | --- |
 * | `m:Model` | any row of the model changes (a write it cannot narrow) |
 * | `r:Model:[pk]` | that row changes |
 * | `b:Model` | rows the write does not name change (bulk writes) |
 * | `n:Model` | a row may have appeared or changed a unique field |
 * | `t:tag` | `$cache.invalidate({ tags })`, or a write to a tagged model |
 * | `*` | the whole namespace changes |
 * @module
 */
import { canonicalize } from "../keys.js";

/** Dependency id of a model. */
export const modelDep = (model: string): string => `m:${model}`;
/** Dependency id of a tag. */
export const tagDep = (tag: string): string => `t:${tag}`;
/** Dependency id: unnamed rows of the model changed. */
export const bulkDep = (model: string): string => `b:${model}`;
/** Dependency id: a row of the model may have appeared or changed its unique fields. */
export const newRowDep = (model: string): string => `n:${model}`;
/** Dependency id of one row, from its primary-key values in id-field order. */
export const rowDep = (model: string, values: readonly unknown[]): string => `r:${model}:${canonicalize(values)}`;
/**
 * Dependency of cached reads that name no model (raw reads with tags only).
 * Bumped, with every model's dependencies, when the whole namespace changes.
 */
export const ALL_DEP = "*";
/** The model a `m:Model` id names, or undefined for any other id. */
export const modelOfDep = (dep: string): string | undefined => (dep.startsWith("m:") ? dep.slice(2) : undefined);
/** The ids that together make every entry of a namespace with these models stale. */
export const everythingDeps = (models: readonly string[]): string[] => [ALL_DEP, ...models.flatMap((m) => [modelDep(m), bulkDep(m), newRowDep(m)])];
