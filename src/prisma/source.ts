/**
 * The database step of a cached read: the query Prisma runs beneath the
 * cache layer, called by the engine on a miss (and by a bypass at once).
 * @module
 */
import type { Sql } from "@prisma/client/runtime/client";
import type { Load } from "../engine/request.js";

type Method = (args?: unknown) => PromiseLike<unknown> & Record<string, unknown>;
/** A Prisma client as the cache walks it: properties, and the client it was extended from. */
export type ClientLike = { [key: string | symbol]: unknown; $parent?: ClientLike };

/** What the cache reads off Prisma's model context (`this` inside a model method). */
export interface ModelContext {
  readonly $name: string;
  readonly $parent: ClientLike;
}

const lowerFirst = (s: string): string => s.charAt(0).toLowerCase() + s.slice(1);

/**
 * The model delegate beneath the cache layer, found by skipping the layers
 * whose `op` is the cache's own method (`ours`).
 */
export function beneath(ctx: ModelContext, op: string, ours: unknown): Record<string, Method> {
  const prop = lowerFirst(ctx.$name);
  let client = ctx.$parent;
  for (let i = 0; i < 32 && (client[prop] as Record<string, unknown> | undefined)?.[op] === ours; i++) {
    const next = client.$parent;
    if (!next || next === client) break;
    client = next;
  }
  return client[prop] as Record<string, Method>;
}

/** Runs `op` on the model beneath the cache at once: Prisma's own lazy promise. */
export const runBeneath = (ctx: ModelContext, op: string, args: unknown, ours: unknown): PromiseLike<unknown> => beneath(ctx, op, ours)[op]!(args);

/** The database query of a model read: `op` on the model beneath the cache (`ours` is the cache's method for `op`). */
export const modelLoad =
  (ctx: ModelContext, op: string, args: unknown, ours: unknown): Load =>
  (runWith) =>
    Promise.resolve(runBeneath(ctx, op, runWith ?? args, ours));

/** The database query of a cached raw read: the client's `$queryRaw`. */
export const rawLoad =
  (client: ClientLike, sql: Sql): Load =>
  () =>
    Promise.resolve((client.$queryRaw as (s: Sql) => PromiseLike<unknown>)(sql));
