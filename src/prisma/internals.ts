/**
 * Every Prisma Client internal the cache reads, in one place, each behind a
 * typed accessor with its fallback. Verified on Prisma 7.10 (`prisma-client`
 * generator, `@prisma/client/runtime/client`). A Prisma upgrade should re-run
 * the integration suite; `probeInternals` reports what is missing.
 * @module
 */
import type { RuntimeDataModel } from "../deps/graph.js";

type Bag = { [key: string | symbol]: unknown };

/**
 * One `$extends(...)` layer of a client: the extension object as it was passed
 * (or as a function extension passed it on). Prisma keeps them in a linked
 * list, newest first (`client._extensions.head`, nodes `{ extension, previous }`).
 */
export interface ExtensionLayer {
  /** The extension object: `{ name?, query?, result?, model?, client? }`. */
  readonly extension: {
    readonly name?: unknown;
    readonly query?: unknown;
    readonly result?: unknown;
    readonly model?: unknown;
    readonly client?: unknown;
  };
  /** The node itself, for identity (layers are shared between derived clients). */
  readonly node: object;
}

/** A node of Prisma's extension list (`MergedExtensionsListNode`). */
interface ExtensionNode {
  extension?: ExtensionLayer["extension"];
  previous?: ExtensionNode;
}

/**
 * The extension layers of a client (or of a request's `__internalParams.extensions`),
 * newest first. Prisma 7.10: `client._extensions.head` → `{ extension, previous }`.
 * Fallback: `undefined` (the list is unreadable), which callers treat as
 * "cannot know": reads are not cached.
 */
export function extensionLayers(list: unknown): ExtensionLayer[] | undefined {
  if (typeof list !== "object" || list === null || !("head" in list)) return undefined;
  const layers: ExtensionLayer[] = [];
  for (let node = (list as { head?: ExtensionNode }).head; node; node = node.previous) {
    if (typeof node !== "object" || typeof node.extension !== "object" || node.extension === null) return undefined;
    layers.push({ extension: node.extension, node });
    if (layers.length > 10_000) return undefined;
  }
  return layers;
}

/** A client's extension list (`client._extensions`), as passed to {@link extensionLayers}. */
export const extensionList = (client: unknown): unknown => (client as Bag | null)?._extensions;

/** The first node of a client's extension list, or undefined when it has none. */
export function extensionHead(client: unknown): object | undefined {
  const head = ((client as Bag | null)?._extensions as { head?: unknown } | undefined)?.head;
  return typeof head === "object" && head !== null ? head : undefined;
}

/**
 * The client's global `omit` (`new PrismaClient({ omit })`). Prisma 7.10:
 * `client._globalOmit`. Fallback: undefined (no global omit), which the probe
 * reports when the field is missing entirely.
 */
export function globalOmit(client: unknown): unknown {
  return (client as Bag | null)?._globalOmit;
}

/**
 * The database schema the driver adapter qualifies its queries with, when it
 * has one of its own (`new PrismaPg(config, { schema })`). Prisma 7.10:
 * `client._engineConfig.adapter.options.schema` (adapter-pg's factory).
 * Fallback: undefined (the connection's own schema, which the fingerprint
 * query reads with `current_schema()`).
 */
export function adapterSchema(client: unknown): string | undefined {
  const adapter = ((client as Bag | null)?._engineConfig as Bag | undefined)?.adapter as Bag | undefined;
  const schema = (adapter?.options as Bag | undefined)?.schema;
  return typeof schema === "string" && schema !== "" ? schema : undefined;
}

/** The datasource provider (`"postgresql"`, `"mysql"`, `"sqlite"`, …). Prisma 7.10: `client._activeProvider`. */
export function activeProvider(client: unknown): string | undefined {
  const p = (client as Bag | null)?._activeProvider;
  return typeof p === "string" ? p : undefined;
}

/**
 * The runtime data model (models and relation fields). Prisma 7.10:
 * `client._runtimeDataModel`. No fallback: the cache cannot plan reads without it.
 */
export function runtimeDataModel(client: unknown): RuntimeDataModel | undefined {
  const dm = (client as Bag | null)?._runtimeDataModel as RuntimeDataModel | undefined;
  return dm && typeof dm === "object" && typeof dm.models === "object" ? dm : undefined;
}

/**
 * The schema text the generated client carries. Prisma 7.10:
 * `client._engineConfig.inlineSchema`. Fallback: undefined, and invalidation
 * is per model (no row-level dependencies, no referential actions).
 */
export function inlineSchema(client: unknown): string | undefined {
  const s = ((client as Bag | null)?._engineConfig as Bag | undefined)?.inlineSchema;
  return typeof s === "string" ? s : undefined;
}

type BuiltinFn = (this: unknown, arg: unknown, options?: unknown) => Promise<unknown>;

/**
 * Prisma's own `$transaction` / `$disconnect`, from the prototype of the client
 * the extension was applied to. Prisma 7.10: `client._originalClient`.
 * Fallback: undefined, and the cache does not override the method (interactive
 * transactions then bump per write, not at commit).
 */
export function builtinMethod(client: unknown, name: "$transaction" | "$disconnect"): BuiltinFn | undefined {
  const original = (client as Bag | null)?._originalClient;
  const fn = typeof original === "object" && original !== null ? (Object.getPrototypeOf(original) as Bag)[name] : undefined;
  return typeof fn === "function" ? (fn as BuiltinFn) : undefined;
}

/**
 * The symbol under which an interactive-transaction client holds its scope.
 * Prisma 7.10: `Symbol.for("prisma.client.transaction.scope_context")`.
 */
export const TX_SCOPE = Symbol.for("prisma.client.transaction.scope_context");

/** Whether a client is an interactive-transaction client (`tx` inside `$transaction(async (tx) => …)`). */
export const isTransactionClient = (client: unknown): boolean => (client as Bag | null)?.[TX_SCOPE] !== undefined;

/** The transaction id of an interactive-transaction client, or undefined. */
export const transactionId = (client: unknown): unknown => ((client as Bag | null)?.[TX_SCOPE] as { txId?: unknown } | undefined)?.txId;

/** What a query-extension hook receives beyond `{ model, operation, args, query }`. Prisma 7.10: `__internalParams`. */
export interface InternalParams {
  /** The transaction the request runs in: `{ kind: "itx" | "batch", id }`. */
  transaction?: { kind: string; id?: unknown };
}

/** One internal the probe found missing, and what the cache does without it. */
export interface MissingInternal {
  /** The internal, e.g. `_extensions`. */
  name: string;
  /** What the cache does without it. */
  effect: string;
  /** The cache cannot work without it: applying the cache throws. */
  required: boolean;
}

/**
 * Checks, once per client the cache is applied to, each internal the cache
 * relies on. Returns the missing ones with their documented effect; the
 * caller throws for the ones it cannot work without.
 */
export function probeInternals(client: unknown): MissingInternal[] {
  const missing: MissingInternal[] = [];
  const c = client as Bag | null;
  if (!runtimeDataModel(client)) missing.push({ name: "_runtimeDataModel", effect: "the cache cannot plan reads without the data model", required: true });
  if (extensionLayers(extensionList(client)) === undefined)
    missing.push({ name: "_extensions", effect: "reads are not cached (the cache cannot see the client's extensions)", required: false });
  if (c && !("_globalOmit" in c))
    missing.push({ name: "_globalOmit", effect: "reads are not cached (the cache cannot see the client's global omit)", required: false });
  if (!inlineSchema(client)) missing.push({ name: "_engineConfig.inlineSchema", effect: "invalidation is per model", required: false });
  if (!builtinMethod(client, "$transaction"))
    missing.push({ name: "_originalClient", effect: "interactive transactions bump per write instead of at commit", required: false });
  return missing;
}
