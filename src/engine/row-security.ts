/**
 * Row-level security the cache cannot see: a read of a table whose policies
 * apply to the database user depends on the session, so it is not cached
 * unless the client declared a scope. Reported once per cache.
 * @module
 */
import type { RelationGraph } from "../deps/graph.js";
import { ALL_DEP, bulkDep, modelDep } from "../deps/ids.js";
import type { CacheEvent } from "../events.js";
import type { ReadRequest } from "./request.js";

/** Decides which reads row-level security keeps out of the cache. */
export class RowSecurity {
  private reported = false;
  /**
   * Dependency ids that name the models of the tables row-level security
   * applies to (`m:` and `b:`: every read of a model, or through a relation
   * to it, records one of them), by model, worked out once the fingerprint is known.
   */
  private deps: Map<string, string> | undefined;

  constructor(
    private readonly graph: RelationGraph,
    /** The tables row-level security applies to for this user (from the database fingerprint), once known. */
    private readonly tables: () => ReadonlySet<string> | undefined,
    private readonly emit: (event: CacheEvent) => void,
  ) {}

  /**
   * The first model a read touches whose table's row-level security applies
   * to this connection's user (`*` for a read of the whole namespace), or
   * undefined, also when the client declared a scope (`scoped`). The first
   * time one is found, a `bypass` event says so.
   */
  secured(request: ReadRequest, scoped: boolean): string | undefined {
    const found = this.find(request, scoped);
    if (found !== undefined && !this.reported) {
      this.reported = true;
      this.emit({ type: "bypass", reason: "row-level-security", model: found, operation: "read", detail: this.detail() });
    }
    return found;
  }

  /** {@link secured}'s decision, reporting nothing (`$cache.explain` shares it). */
  find(request: ReadRequest, scoped: boolean): string | undefined {
    if (scoped) return undefined;
    const tables = this.tables();
    if (!tables || tables.size === 0) return undefined;
    if (!this.deps) {
      this.deps = new Map();
      for (const m of this.graph.models) {
        if (!tables.has(this.graph.tableOf(m))) continue;
        this.deps.set(modelDep(m), m);
        this.deps.set(bulkDep(m), m);
      }
    }
    let found: string | undefined;
    for (const d of request.deps) {
      if (d === ALL_DEP) found = d;
      else found = this.deps.get(d);
      if (found !== undefined) break;
    }
    return found;
  }

  /** What a read that row-level security keeps out of the cache is told. */
  detail(): string {
    return `row-level security applies to this database user on ${[...(this.tables() ?? [])].join(", ")}; declare how results vary with prismaCache({ scope }) or cacheScope(scope, extension)`;
  }
}
