/**
 * Primary keys added to a read's `select`: a level whose `select` leaves out
 * its model's primary key (`author: { select: { username: true } }`, as
 * RealWorld backends have them) could only depend on its whole model. The
 * query runs with the key fields selected too, the read records the rows
 * by them, and the fields are taken out of the result before anyone sees
 * it. The cache key is the query as called.
 * @module
 */
import type { Relations } from "./relations.js";

/** The arguments a read runs with, and how its result is given back its own shape. */
export interface KeyedSelect {
  /** The read's arguments with the key fields added to each `select` that lacked them. */
  readonly args: Record<string, unknown>;
  /** Takes the added fields out of a result of {@link args} (in place), and returns it. */
  strip(value: unknown): unknown;
}

/** What was added at one level, and below it. */
interface Added {
  readonly fields: readonly string[];
  readonly children: ReadonlyMap<string, Added>;
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

/**
 * The keyed form of a read's arguments, or undefined when every level
 * already returns its keys (or none can: a model without a primary key).
 */
export function selectKeys(relations: Relations, model: string, args: Record<string, unknown> | undefined): KeyedSelect | undefined {
  if (!args) return undefined;
  const out = level(relations, model, args);
  if (!out) return undefined;
  const added = out.added;
  return { args: out.args, strip: (value) => strip(value, added) };
}

function level(relations: Relations, model: string, args: Record<string, unknown>): { args: Record<string, unknown>; added: Added } | undefined {
  const fields: string[] = [];
  const children = new Map<string, Added>();
  let next: Record<string, unknown> | undefined;
  const select = args.select;
  if (isObject(select)) {
    const id = relations.facts.models[model]?.id;
    let copy: Record<string, unknown> | undefined;
    for (const f of id ?? []) {
      if (select[f] === true) continue;
      copy ??= { ...select };
      copy[f] = true;
      fields.push(f);
    }
    const nested = nestedLevels(relations, model, copy ?? select, children);
    if (copy || nested) next = { ...args, select: nested ?? copy };
  }
  const include = args.include;
  if (isObject(include)) {
    const nested = nestedLevels(relations, model, include, children);
    if (nested) next = { ...(next ?? args), include: nested };
  }
  if (!next) return undefined;
  return { args: next, added: { fields, children } };
}

/** The relation fields of a `select` or `include` whose levels got keys: a copy with their new arguments, or undefined. */
function nestedLevels(relations: Relations, model: string, part: Record<string, unknown>, children: Map<string, Added>): Record<string, unknown> | undefined {
  let copy: Record<string, unknown> | undefined;
  for (const key in part) {
    const v = part[key];
    if (!isObject(v) || key === "_count") continue;
    const target = relations.link(model, key)?.target;
    if (target === undefined) continue;
    const below = level(relations, target, v);
    if (!below) continue;
    copy ??= { ...part };
    copy[key] = below.args;
    children.set(key, below.added);
  }
  return copy;
}

function strip(value: unknown, added: Added): unknown {
  if (Array.isArray(value)) {
    for (const row of value) stripRow(row, added);
  } else stripRow(value, added);
  return value;
}

function stripRow(row: unknown, added: Added): void {
  if (!isObject(row)) return;
  for (const f of added.fields) delete row[f];
  for (const [field, below] of added.children) strip(row[field], below);
}
