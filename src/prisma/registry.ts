/**
 * What every copy of this library loaded in one process shares: the marker
 * layers of `cacheScope` / `cacheNeutral` and the cache's own extension
 * objects. An app can load the ESM and the CJS build side by side (one
 * package requires it, another imports it); a declaration made with one
 * copy must be seen by the cache of the other.
 * @module
 */
import type { Declaration } from "./declare.js";

/** A marker layer's declaration, and whether it is applied before (`start`) or after (`end`) the extension it wraps. */
export interface Marker {
  readonly declaration: Declaration;
  readonly edge: "start" | "end";
}

interface Registry {
  /** Marker layer → what it declares. */
  readonly markers: WeakMap<object, Marker>;
  /** The extension objects of the cache (one per application): skipped in every profile. */
  readonly cacheLayers: WeakSet<object>;
}

/** The key the registry lives under on `globalThis`; versioned, so that an incompatible future shape takes another. */
const KEY = Symbol.for("prisma-tiered-cache.registry.v1");

const holder = globalThis as { [KEY]?: Registry };

/** The process-wide registry. */
export const registry: Registry = (holder[KEY] ??= { markers: new WeakMap(), cacheLayers: new WeakSet() });
