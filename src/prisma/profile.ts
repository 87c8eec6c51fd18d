/**
 * What the cache knows about the client a read runs through: whether it may
 * cache the read at all, and what, besides the query, its key must hold.
 *
 * A client is the chain of `$extends` layers beneath the cache. Each layer is
 * one of:
 * - the cache itself (any application of it), or a declaration marker: skipped;
 * - a query extension (or a model method overriding a read) the cache cannot
 *   see into: reads it hooks are not cached, unless a declaration
 *   (`cacheScope`, `cacheNeutral`) wraps it, or it lies in the client the
 *   cache was applied to and `prismaCache({ scope })` is set;
 * - a result extension (computed fields): its fields, `needs` and the source
 *   of each `compute` go into the key, so clients with other computed fields
 *   never share entries;
 * - anything else (client methods, model methods other than reads): ignored.
 * @module
 */
import { registry } from "./registry.js";
import { canonicalHasher, canonicalize } from "../keys.js";
import type { ScopeSource, CacheScope } from "./declare.js";
import { markerOf } from "./declare.js";
import { extensionLayers, type ExtensionLayer } from "./internals.js";

export type { BypassReason } from "../stats.js";

/**
 * The eight read operations the cache answers, each of which takes the
 * `cache` option. A query extension that must see every read, a tenant
 * filter for example, can test `new Set<string>(CACHED_READ_OPERATIONS).has(operation)`
 * rather than keep a list of its own: a list that leaves out
 * `findUniqueOrThrow` or `findFirstOrThrow` lets those reads through
 * unfiltered.
 */
export const CACHED_READ_OPERATIONS = [
  "findUnique",
  "findUniqueOrThrow",
  "findFirst",
  "findFirstOrThrow",
  "findMany",
  "count",
  "aggregate",
  "groupBy",
] as const;

/** A layer the cache cannot see into, and which reads it touches. */
interface OpaqueLayer {
  readonly name: string;
  /** Whether it hooks `operation` on `model` (undefined model: a raw query, `$queryRaw`). */
  affects(model: string | undefined, operation: string): boolean;
}

type Bag = Record<string, unknown>;
const isBag = (v: unknown): v is Bag => typeof v === "object" && v !== null;
const lowerFirst = (s: string): string => s.charAt(0).toLowerCase() + s.slice(1);

/** The layer's hooks as Prisma looks them up for (model, operation). */
function queryHooks(query: Bag): OpaqueLayer["affects"] {
  return (model, operation) => {
    if (query.$allOperations !== undefined || query.$__internalBatch !== undefined) return true;
    if (model === undefined) return query[operation] !== undefined;
    for (const m of [model, lowerFirst(model), "$allModels"]) {
      const hooks = query[m];
      if (isBag(hooks) && (hooks.$allOperations !== undefined || hooks[operation] !== undefined)) return true;
    }
    return false;
  };
}

/** Model methods that replace a read (`model: { user: { findMany() {} } }`). */
function readOverrides(model: Bag): OpaqueLayer["affects"] | undefined {
  const overridden = (m: unknown) => isBag(m) && CACHED_READ_OPERATIONS.some((op) => typeof m[op] === "function");
  if (!Object.values(model).some(overridden)) return undefined;
  return (name) => name !== undefined && [name, lowerFirst(name), "$allModels"].some((m) => overridden(model[m]));
}

/** A result extension in canonical form: models, fields, `needs`, and each `compute`'s source. */
function resultShape(result: Bag): unknown {
  const out: Record<string, Record<string, unknown>> = {};
  for (const [model, fields] of Object.entries(result)) {
    if (!isBag(fields)) continue;
    const shaped: Record<string, unknown> = {};
    for (const [field, def] of Object.entries(fields)) {
      shaped[field] = isBag(def) ? [isBag(def.needs) ? Object.keys(def.needs).sort() : [], String(def.compute)] : String(def);
    }
    out[model] = shaped;
  }
  return out;
}

const hashShape = canonicalHasher("prisma-tiered-cache", "result-shape");

/** The extension objects of the cache (one per application), of every copy of the library: skipped in every profile. */
const cacheLayers = registry.cacheLayers;

/** Marks an extension object as one of the cache's own layers. */
export const markCacheLayer = (extension: object): void => void cacheLayers.add(extension);

/** What a {@link ClientProfile} is made of. A field left out is "none" or false. */
interface ClientProfileParts {
  /** Key prefix from fixed scopes and result extensions; "" for a bare client. */
  readonly prefix?: string;
  /** Scope functions, called on each read (in order). */
  readonly dynamic?: readonly (() => CacheScope)[];
  /** Layers the cache cannot see into. */
  readonly opaque?: readonly OpaqueLayer[];
  /** Inside an interactive transaction: never cached. */
  readonly transaction?: boolean;
  /** A bare client: nothing beneath the cache changes results (see {@link ClientProfile.bare}). */
  readonly bare?: boolean;
  /** A scope is declared (a value or a function): reads may depend on session state it names. */
  readonly scoped?: boolean;
}

/** What one client means for the cache's reads through it. */
export class ClientProfile {
  /** Per (model, operation): the opaque layers that hook it, worked out once. */
  private readonly verdicts = new Map<string, string | null>();
  /** (model, operation) pairs whose bypass was reported. */
  private readonly reported = new Set<string>();
  /** Key prefix from fixed scopes and result extensions; "" for a bare client. */
  readonly prefix: string;
  /** Scope functions, called on each read (in order); empty when there are none. */
  readonly dynamic: readonly (() => CacheScope)[];
  /** Layers the cache cannot see into. */
  private readonly opaque: readonly OpaqueLayer[];
  /** Inside an interactive transaction: never cached. */
  readonly transaction: boolean;
  /**
   * A bare client: nothing beneath the cache changes results (no scope, no
   * computed field, no query extension but `cacheNeutral` ones), so each
   * read is keyed by the read alone and write-through may store a write's
   * result. Implies {@link simple} and an empty {@link prefix}.
   */
  readonly bare: boolean;
  /** A scope is declared (a value or a function): reads may depend on session state it names. */
  readonly scoped: boolean;
  /** No scope function, no opaque layer, no transaction: every read is keyed by {@link prefix} alone. */
  readonly simple: boolean;

  constructor(parts: ClientProfileParts) {
    this.prefix = parts.prefix ?? "";
    this.dynamic = parts.dynamic ?? [];
    this.opaque = parts.opaque ?? [];
    this.transaction = parts.transaction ?? false;
    this.bare = parts.bare ?? false;
    this.scoped = parts.scoped ?? false;
    this.simple = !this.transaction && this.opaque.length === 0 && this.dynamic.length === 0;
  }

  /** True the first time it is called for `key`: bypasses are reported once per client, model and operation. */
  firstReport(key: string): boolean {
    if (this.reported.has(key)) return false;
    this.reported.add(key);
    return true;
  }

  /**
   * The names of the opaque layers that hook (model, operation), or null when
   * none does. Remembered per pair.
   */
  opaqueFor(model: string | undefined, operation: string): string | null {
    if (this.opaque.length === 0) return null;
    const k = `${model ?? ""}.${operation}`;
    let v = this.verdicts.get(k);
    if (v === undefined) {
      const names = this.opaque.filter((l) => l.affects(model, operation)).map((l) => l.name);
      this.verdicts.set(k, (v = names.length ? names.join(", ") : null));
    }
    return v;
  }

  /**
   * The key prefix of one read: the fixed part, then the current value of
   * each scope function.
   * @throws whatever a scope function throws.
   */
  keyPrefix(): string {
    if (this.dynamic.length === 0) return this.prefix;
    return `${this.prefix}d${canonicalize(this.dynamic.map((f) => f()))}|`;
  }
}

/** The profile of an interactive-transaction client: never cached. */
const TRANSACTION = new ClientProfile({ transaction: true });

/** The profile of a client whose extensions cannot be read: nothing is cached. */
const UNREADABLE = new ClientProfile({ opaque: [{ name: "(unreadable extension list)", affects: () => true }] });

/** Works out and remembers the profile of each client a cache serves. */
export class Profiler {
  private readonly byList = new WeakMap<object, ClientProfile>();

  constructor(
    /** The newest layer of the client the cache was applied to; it and older layers are that client's. */
    private readonly baseHead: object | undefined,
    /** `prismaCache({ scope })`: covers the opaque layers of the client the cache was applied to. */
    private readonly baseScope: ScopeSource | undefined,
    /** A Prisma internal the cache needs to see a client is missing: nothing is cached (named in the bypass event). */
    private readonly blind?: string,
  ) {}

  /** The profile of an interactive-transaction client. */
  get transaction(): ClientProfile {
    return TRANSACTION;
  }

  /** The profile of a client, from its extension list (`client._extensions`). */
  ofList(list: unknown): ClientProfile {
    if (this.blind !== undefined) return new ClientProfile({ opaque: [{ name: this.blind, affects: () => true }] });
    if (!isBag(list)) return UNREADABLE;
    let p = this.byList.get(list);
    if (!p) this.byList.set(list, (p = this.build(extensionLayers(list))));
    return p;
  }

  private build(layers: ExtensionLayer[] | undefined): ClientProfile {
    if (!layers) return UNREADABLE;
    const parts: unknown[] = [];
    const dynamic: (() => CacheScope)[] = [];
    const opaque: OpaqueLayer[] = [];
    const addScope = (s: ScopeSource) => {
      scoped = true;
      if (typeof s === "function") dynamic.push(s);
      else parts.push(["s", s]);
    };
    let declared = 0; // depth of declaration regions around the current layer (newest first: end, …, start)
    let inBase = this.baseHead === undefined;
    let changes = false;
    let scoped = false;
    for (const { extension, node } of layers) {
      if (node === this.baseHead) inBase = true;
      if (cacheLayers.has(extension)) continue;
      const marker = markerOf(extension);
      if (marker) {
        if (marker.edge === "end") {
          declared++;
          if (marker.declaration.kind === "scope") addScope(marker.declaration.scope);
          changes ||= marker.declaration.kind === "scope";
        } else declared = Math.max(0, declared - 1);
        continue;
      }
      const name = typeof extension.name === "string" && extension.name ? `"${extension.name}"` : "(unnamed)";
      if (isBag(extension.result) && Object.keys(extension.result).length) {
        parts.push(["r", hashShape(canonicalize(resultShape(extension.result)))]);
        changes = true;
      }
      const hooks: OpaqueLayer["affects"][] = [];
      if (isBag(extension.query) && Object.keys(extension.query).length) hooks.push(queryHooks(extension.query));
      const overrides = isBag(extension.model) ? readOverrides(extension.model) : undefined;
      if (overrides) hooks.push(overrides);
      if (hooks.length === 0) continue;
      changes ||= declared === 0;
      if (declared > 0 || (inBase && this.baseScope !== undefined)) continue;
      opaque.push({ name: `extension ${name}`, affects: (m, op) => hooks.some((h) => h(m, op)) });
    }
    if (this.baseScope !== undefined) {
      addScope(this.baseScope);
      changes = true;
    }
    // Newest first in the walk; key parts are listed oldest first so that a prefix reads like the chain.
    const prefix = parts.length ? `c${canonicalize(parts.reverse())}|` : "";
    return new ClientProfile({ prefix, dynamic: dynamic.reverse(), opaque, bare: !changes, scoped });
  }
}
