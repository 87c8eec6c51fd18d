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
 * | `s:Model` | a row was created or deleted (the set of rows changed) |
 * | `f:Model.field` | an update set that field of some row (its old value is not known) |
 * | `v:Model.fields:values` | a row with those foreign-key values was created or deleted, or took them |
 * | `v:Model.fields` | a row's foreign-key values changed to, or from, values not known |
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
/** Dependency id: rows of the model were created or deleted. */
export const rowSetDep = (model: string): string => `s:${model}`;
/** Dependency id: an update set `field` of some row of the model. */
export const fieldDep = (model: string, field: string): string => `f:${model}.${field}`;
/**
 * Dependency id of one value of a foreign key (or of a join table's column,
 * named by the model it references): rows holding it were created, deleted,
 * or moved to it. `value` comes from {@link valueText}.
 */
export const valueDep = (model: string, fields: string, value: string): string => `v:${model}.${fields}:${value}`;
/** Dependency id: rows of the model took, or left, values of `fields` that are not known. */
export const anyValueDep = (model: string, fields: string): string => `v:${model}.${fields}`;

/**
 * The text of a foreign-key value in a value dependency, the same whether it
 * comes from a query's arguments or a result row (a BigInt key may be given
 * as a number); undefined for a value that has no such form (then the write
 * bumps, and the read depends on, the field as a whole).
 */
export function valueText(v: unknown): string | undefined {
  if (v === null) return "null";
  const t = typeof v;
  if (t === "number") return Number.isFinite(v) ? `#${v}` : undefined;
  if (t === "bigint") return `#${v}`;
  if (t === "string") return JSON.stringify(v);
  return undefined;
}

/** Dependency id of one row, from its primary-key values in id-field order. */
export const rowDep = (model: string, values: readonly unknown[]): string => `r:${model}:${canonicalize(values)}`;
/**
 * Dependency of cached reads that name no model (raw reads with tags only).
 * Bumped, with every model's dependencies, when the whole namespace changes.
 */
export const ALL_DEP = "*";
/** The ids that together make every entry of a namespace with these models stale. */
export const everythingDeps = (models: readonly string[]): string[] => [ALL_DEP, ...models.flatMap((m) => [modelDep(m), bulkDep(m), newRowDep(m)])];
