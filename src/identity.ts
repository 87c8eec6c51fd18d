/**
 * The database fingerprint: which database a cache's entries were read from.
 * It is part of every L2 key, so that two databases sharing one Redis and one
 * namespace (per-tenant databases, staging and production) never read each
 * other's entries. Taken once, with one query, before the first L2 read; until
 * it is known, reads use L1 and the database only.
 * @module
 */
import { hostname } from "node:os";
import { canonicalize } from "./keys.js";

/**
 * The tables of the current schema whose row-level security applies to the
 * current user (not a superuser, not BYPASSRLS, and not the owner unless
 * FORCE ROW LEVEL SECURITY), comma-separated.
 */
const PG_RLS =
  "(SELECT coalesce(string_agg(c.relname, ',' ORDER BY c.relname), '') FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace " +
  "WHERE c.relrowsecurity AND n.nspname = current_schema() AND NOT (SELECT r.rolsuper OR r.rolbypassrls FROM pg_roles r WHERE r.rolname = current_user) " +
  "AND (c.relforcerowsecurity OR pg_get_userbyid(c.relowner) <> current_user)) AS rls";

/** The fingerprint query of each provider: cheap, and identifying the server and the database. */
const QUERIES: Record<string, readonly string[]> = {
  // system_identifier is unique per cluster (initdb); pg_control_system() may need pg_monitor, hence the fallback.
  // The schema and the user too: tenants are often schemas of one database, or
  // database users that row-level security (or privileges) tell apart. `rls`
  // lists the tables of the schema whose row-level security applies to this user.
  postgresql: [
    `SELECT current_database() AS db, current_schema() AS schema, current_user AS usr, ${PG_RLS}, (SELECT system_identifier::text FROM pg_control_system()) AS sys`,
    `SELECT current_database() AS db, current_schema() AS schema, current_user AS usr, ${PG_RLS}, inet_server_addr()::text AS host, inet_server_port() AS port, (SELECT oid::text FROM pg_database WHERE datname = current_database()) AS oid`,
  ],
  cockroachdb: ["SELECT current_database() AS db, current_schema() AS schema, current_user AS usr, crdb_internal.cluster_id()::text AS sys"],
  mysql: ["SELECT DATABASE() AS db, CURRENT_USER() AS usr, @@hostname AS host, @@port AS port, @@server_id AS sid"],
  sqlserver: ["SELECT DB_NAME() AS db, SUSER_SNAME() AS usr, @@SERVERNAME AS host, CONVERT(varchar(36), SERVERPROPERTY('ServerName')) AS sname"],
  // A file database: its path on this host.
  sqlite: ["PRAGMA database_list"],
};

/** Milliseconds before a failed fingerprint query is tried again. */
const RETRY_MS = 1_000;

/** Runs one SQL text and resolves to its rows. */
export type RawQuery = (sql: string) => Promise<unknown>;

/** The fingerprint of the database a client reads, taken once. */
export class DatabaseIdentity {
  private value: string | undefined;
  private pending: Promise<void> | undefined;
  private retryAt = 0;

  /** @param onError called with each failed attempt's error (attempts are at least {@link RETRY_MS} apart). */
  /**
   * @param schema the schema the driver adapter qualifies queries with, if any
   *   (it does not show in the connection's `current_schema()`).
   */
  constructor(
    private readonly provider: string | undefined,
    private readonly query: RawQuery,
    private readonly onError: (error: unknown) => void = () => undefined,
    private readonly schema: string | undefined = undefined,
  ) {}

  /** The fingerprint text, once known. */
  get known(): string | undefined {
    return this.value;
  }

  /** Tables whose row-level security applies to this connection's user, once known (Postgres). */
  rowSecured: ReadonlySet<string> = new Set();

  /**
   * Undefined when the fingerprint is known (or a recent attempt failed and
   * is not due again); otherwise a promise that settles (never rejects) once
   * the attempt has finished.
   */
  ensure(): Promise<void> | undefined {
    if (this.value !== undefined) return undefined;
    if (this.pending) return this.pending;
    if (Date.now() < this.retryAt) return undefined;
    this.pending = this.take().then(
      (v) => {
        this.value = v;
        this.pending = undefined;
      },
      (err: unknown) => {
        this.retryAt = Date.now() + RETRY_MS;
        this.pending = undefined;
        this.onError(err);
      },
    );
    return this.pending;
  }

  private async take(): Promise<string> {
    const queries = QUERIES[this.provider ?? ""];
    if (!queries) throw new Error(`no fingerprint query for provider "${this.provider}"`);
    let last: unknown;
    for (const sql of queries) {
      try {
        const rows = await this.query(sql);
        if (!Array.isArray(rows) || rows.length === 0) throw new Error(`the fingerprint query returned no rows: ${sql}`);
        const rls = (rows[0] as { rls?: unknown }).rls;
        if (typeof rls === "string" && rls !== "") this.rowSecured = new Set(rls.split(","));
        const parts: unknown[] = [
          this.provider,
          this.schema ?? null,
          rows.map((r) => (typeof r === "object" && r !== null ? Object.entries(r).map(([k, v]) => [k, String(v)]) : String(r))),
        ];
        if (this.provider === "sqlite") parts.push(hostname());
        return canonicalize(parts);
      } catch (err) {
        last = err;
      }
    }
    throw last;
  }
}
