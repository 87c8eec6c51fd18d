/**
 * The PostgreSQL change feed source: logical replication with `pgoutput`,
 * through `pg-logical-replication`, from a durable slot and a publication
 * of the models' tables. The slot keeps the acknowledged position (its
 * confirmed LSN): only commits whose bumps Redis has taken are
 * acknowledged, and a consumer that dies replays from there. Setup is
 * checked first, and every refusal names the setting to change.
 * @module
 */
import type { Client, ClientConfig } from "pg";
import type { LogicalReplicationService, Pgoutput } from "pg-logical-replication";
import { FeedSetupError } from "../errors.js";
import type { FeedEvent, FeedSink, FeedSource, RowEvent } from "./source.js";

/** Settings of {@link postgresSource}. */
export interface PostgresSourceOptions {
  /** `postgresql://` URL of the database; its user needs the `REPLICATION` attribute. */
  readonly url: string;
  /** Replication slot name; created (pgoutput) when missing. */
  readonly slot: string;
  /** Publication name; created for {@link tables} when missing, and extended when it lacks one (if the user may). */
  readonly publication: string;
  /** The tables the cache knows, as the database names them. */
  readonly tables: readonly string[];
  /** The schema of the tables. @default "public" */
  readonly schema?: string;
  /** Whether a missing slot or publication may be created. @default true */
  readonly create?: boolean;
}

/** Most row changes of one transaction held before they are pushed (with the last commit's position) in a run of their own. */
const CHUNK = 1_000;

/** The event trigger (and its function) that emits schema changes into the log; one per database, shared by every feed. */
const DDL_TRIGGER = "ptc_feed_ddl";
/** The prefix of the logical messages it emits; their content is the table's name. */
const DDL_PREFIX = "ptc-ddl";
const DDL_FUNCTION_SQL = `CREATE OR REPLACE FUNCTION ${DDL_TRIGGER}() RETURNS event_trigger LANGUAGE plpgsql AS $$
DECLARE r record;
BEGIN
  -- Never in the way of a schema change: without logical decoding there is no feed to tell.
  IF current_setting('wal_level') <> 'logical' THEN RETURN; END IF;
  FOR r IN SELECT c.relname, n.nspname FROM pg_event_trigger_ddl_commands() d JOIN pg_class c ON c.oid = d.objid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE d.classid = 'pg_class'::regclass AND c.relkind IN ('r', 'p') LOOP
    PERFORM pg_logical_emit_message(true, '${DDL_PREFIX}', r.nspname || '.' || r.relname);
  END LOOP;
END $$`;

/** SQL identifier quoting. */
const ident = (name: string): string => `"${name.replace(/"/g, '""')}"`;

/** Loads an optional package, or names it in a setup error. */
async function load<T>(name: string, get: () => Promise<T>): Promise<T> {
  try {
    return await get();
  } catch (err) {
    throw new FeedSetupError(
      name,
      `The change feed on PostgreSQL needs the package ${name} (npm install ${name}): ${(err as Error).message}. The cache works without the feed.`,
    );
  }
}

/** Whether LSN `a` is past `b` (`X/Y` hex pairs). */
function lsnAfter(a: string, b: string): boolean {
  const n = (l: string) => {
    const [hi, lo] = l.split("/");
    return (BigInt(`0x${hi}`) << 32n) | BigInt(`0x${lo}`);
  };
  return n(a) > n(b);
}

/** A Postgres source of the change feed. */
export function postgresSource(options: PostgresSourceOptions): FeedSource {
  return new PostgresSource(options);
}

class PostgresSource implements FeedSource {
  readonly kind = "postgresql";
  readonly keepsPosition = true;
  private service: LogicalReplicationService | undefined;
  private stopped = false;
  /** The last position acknowledged to the slot (its confirmed LSN at start). */
  private acked = "0/0";
  private readonly schema: string;

  constructor(private readonly o: PostgresSourceOptions) {
    this.schema = o.schema ?? "public";
  }

  async start(sink: FeedSink, _from: string | undefined): Promise<{ fresh: boolean }> {
    const pg = await load("pg", () => import("pg"));
    const lib = await load("pg-logical-replication", () => import("pg-logical-replication"));
    const config: ClientConfig = { connectionString: this.o.url, connectionTimeoutMillis: 10_000 };
    const client: Client = new (pg.default ?? pg).Client(config);
    let fresh = false;
    try {
      await client.connect();
      fresh = await this.prepare(client, sink);
    } finally {
      await client.end().catch(() => undefined);
    }
    if (this.stopped) return { fresh };
    const service = new lib.LogicalReplicationService(config, { acknowledge: { auto: false, timeoutSeconds: 0 }, flowControl: { enabled: true } });
    this.service = service;
    const reader = new TransactionReader(sink, () => this.acked);
    service.on("data", (_lsn: string, msg: Pgoutput.Message) => reader.read(msg));
    service.on("heartbeat", (_lsn: string, _at: number, respond: boolean) => {
      // Tells the server this consumer lives, with the position already acknowledged (nothing newer).
      if (respond) void service.acknowledge(this.acked).catch(() => undefined);
    });
    // messages: the schema changes the event trigger (ddl) emits into the log.
    const plugin = new lib.PgoutputPlugin({ protoVersion: 1, publicationNames: [this.o.publication], messages: true });
    await new Promise<void>((resolve, reject) => {
      let started = false;
      const onError = (err: Error) => {
        if (this.stopped) return;
        if (started) sink.fail(err);
        else reject(this.explain(err));
      };
      service.on("error", onError);
      service.once("start", () => {
        started = true;
        resolve();
      });
      service.subscribe(plugin, this.o.slot).then(
        () => {
          // The stream ended without being stopped: the server closed it.
          if (!this.stopped) onError(new Error("the replication stream ended"));
        },
        (err: Error) => onError(err),
      );
    });
    return { fresh };
  }

  /** A replication error, as a setup error where it names one. */
  private explain(err: Error): Error {
    if (/is active for PID/i.test(err.message))
      return new FeedSetupError(
        "slot",
        `Replication slot "${this.o.slot}" is in use by another connection (${err.message}). Another consumer holds it; stop it, or give this namespace its own slot (changeFeed.slot).`,
      );
    return err;
  }

  /**
   * Checks `wal_level` and the user's rights, creates the publication and
   * slot when missing, and reports tables without `REPLICA IDENTITY FULL`.
   * Resolves to whether the slot was created now.
   */
  private async prepare(client: Client, sink: FeedSink): Promise<boolean> {
    const level = (await client.query<{ wal_level: string }>("SHOW wal_level")).rows[0]?.wal_level;
    if (level !== "logical")
      throw new FeedSetupError(
        "wal_level",
        `The change feed needs wal_level = logical, and this server has wal_level = ${level}. Set it and restart Postgres (RDS and Aurora: rds.logical_replication = 1; Cloud SQL: cloudsql.logical_decoding = on; Supabase and Neon: enable logical replication). The cache works without the feed.`,
      );
    const rights = await client.query<{ ok: boolean; who: string }>(
      "SELECT (r.rolreplication OR r.rolsuper OR EXISTS (SELECT 1 FROM pg_roles m WHERE m.rolname = 'rds_replication' AND pg_has_role(current_user, m.oid, 'member'))) AS ok, current_user AS who FROM pg_roles r WHERE r.rolname = current_user",
    );
    const who = rights.rows[0]?.who ?? "the user";
    if (!rights.rows[0]?.ok)
      throw new FeedSetupError(
        "REPLICATION",
        `The change feed needs a user with the REPLICATION attribute: ALTER ROLE ${ident(who)} WITH REPLICATION (RDS and Aurora: GRANT rds_replication TO ${ident(who)}). The cache works without the feed.`,
      );
    await this.publication(client);
    await this.ddlTrigger(client, sink);
    const tables = this.o.tables;
    const identity = await client.query<{ relname: string; relreplident: string }>(
      "SELECT c.relname, c.relreplident FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = ANY($2::text[])",
      [this.schema, tables],
    );
    const coarse = identity.rows.filter((r) => r.relreplident !== "f").map((r) => r.relname);
    if (coarse.length > 0)
      sink.warn(
        `Tables without REPLICA IDENTITY FULL: ${coarse.join(", ")}. Their updates and deletes carry no old row, so the feed bumps coarser dependencies for them (more misses, never stale). For exact ones: ${coarse.map((t) => `ALTER TABLE ${ident(t)} REPLICA IDENTITY FULL`).join("; ")}.`,
      );
    const slot = await client.query<{ plugin: string; database: string; confirmed: string | null }>(
      "SELECT plugin, database, confirmed_flush_lsn::text AS confirmed FROM pg_replication_slots WHERE slot_name = $1",
      [this.o.slot],
    );
    const found = slot.rows[0];
    if (found) {
      const db = (await client.query<{ db: string }>("SELECT current_database() AS db")).rows[0]?.db;
      if (found.plugin !== "pgoutput" || found.database !== db)
        throw new FeedSetupError(
          "slot",
          `Replication slot "${this.o.slot}" exists with plugin ${found.plugin} on database ${found.database}; the feed needs pgoutput on ${db}. Drop it, or name another slot (changeFeed.slot).`,
        );
      this.acked = found.confirmed ?? "0/0";
      return false;
    }
    if (this.o.create === false)
      throw new FeedSetupError(
        "slot",
        `Replication slot "${this.o.slot}" does not exist: SELECT pg_create_logical_replication_slot('${this.o.slot}', 'pgoutput').`,
      );
    const created = await client.query<{ lsn: string }>("SELECT lsn::text AS lsn FROM pg_create_logical_replication_slot($1, 'pgoutput')", [this.o.slot]);
    this.acked = created.rows[0]?.lsn ?? "0/0";
    return true;
  }

  /**
   * Makes sure the database's event trigger exists that emits each schema
   * change of a table into the log (as a logical message naming it), so
   * that a change of a column's values without row changes (`ALTER ... TYPE
   * ... USING`) makes the table's model stale. It needs a superuser once per
   * database; without one, the feed warns and sees a table's schema change
   * only with its next row change.
   */
  private async ddl(client: Client): Promise<boolean> {
    const exists = await client.query("SELECT 1 FROM pg_event_trigger WHERE evtname = $1", [DDL_TRIGGER]);
    if (exists.rows.length > 0) return true;
    if (this.o.create === false) return false;
    try {
      await client.query("BEGIN");
      await client.query(DDL_FUNCTION_SQL);
      await client.query(`CREATE EVENT TRIGGER ${DDL_TRIGGER} ON ddl_command_end EXECUTE FUNCTION ${DDL_TRIGGER}()`);
      await client.query("COMMIT");
      return true;
    } catch {
      await client.query("ROLLBACK").catch(() => undefined);
      return false;
    }
  }

  private async ddlTrigger(client: Client, sink: FeedSink): Promise<void> {
    if (await this.ddl(client)) return;
    sink.warn(
      `Schema changes reach the change feed only with a table's next row change: the event trigger ${DDL_TRIGGER} is missing and could not be created (it needs a superuser, once per database). To create it: ${DDL_FUNCTION_SQL}; CREATE EVENT TRIGGER ${DDL_TRIGGER} ON ddl_command_end EXECUTE FUNCTION ${DDL_TRIGGER}().`,
    );
  }

  /** Makes sure the publication exists and holds every table (creating or extending it when allowed). */
  private async publication(client: Client): Promise<void> {
    const name = this.o.publication;
    const pub = await client.query<{ all: boolean }>("SELECT puballtables AS all FROM pg_publication WHERE pubname = $1", [name]);
    const list = (tables: readonly string[]) => tables.map((t) => `${ident(this.schema)}.${ident(t)}`).join(", ");
    if (pub.rows.length === 0) {
      const sql = `CREATE PUBLICATION ${ident(name)} FOR TABLE ${list(this.o.tables)}`;
      if (this.o.create === false) throw new FeedSetupError("publication", `Publication "${name}" does not exist: ${sql}.`);
      await client.query(sql).catch((err: Error) => {
        throw new FeedSetupError("publication", `Publication "${name}" could not be created (${err.message}). Create it as the tables' owner: ${sql}.`);
      });
      return;
    }
    if (pub.rows[0]?.all) return;
    const has = await client.query<{ tablename: string }>("SELECT tablename FROM pg_publication_tables WHERE pubname = $1 AND schemaname = $2", [
      name,
      this.schema,
    ]);
    const present = new Set(has.rows.map((r) => r.tablename));
    const missing = this.o.tables.filter((t) => !present.has(t));
    if (missing.length === 0) return;
    const sql = `ALTER PUBLICATION ${ident(name)} ADD TABLE ${list(missing)}`;
    if (this.o.create === false) throw new FeedSetupError("publication", `Publication "${name}" lacks tables ${missing.join(", ")}: ${sql}.`);
    await client.query(sql).catch((err: Error) => {
      throw new FeedSetupError(
        "publication",
        `Publication "${name}" lacks tables ${missing.join(", ")}, and they could not be added (${err.message}): ${sql}.`,
      );
    });
  }

  async acknowledge(position: string): Promise<void> {
    if (!lsnAfter(position, this.acked)) return;
    this.acked = position;
    await this.service?.acknowledge(position);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const service = this.service;
    this.service = undefined;
    await service?.destroy().catch(() => undefined);
  }
}

/** Groups pgoutput messages into transactions, and pushes each with its commit's position. */
class TransactionReader {
  private events: FeedEvent[] = [];
  /** Column lists of the relations seen, by oid: a new list for a known oid is a schema change. */
  private readonly columns = new Map<number, string>();

  constructor(
    private readonly sink: FeedSink,
    private readonly acked: () => string,
  ) {}

  /** Position of the last commit pushed (what a chunk of a long transaction is pushed with). */
  private last: string | undefined;

  async read(msg: Pgoutput.Message): Promise<void> {
    switch (msg.tag) {
      case "relation": {
        const cols = msg.columns.map((c) => `${c.name}:${c.typeOid}`).join(",");
        const before = this.columns.get(msg.relationOid);
        this.columns.set(msg.relationOid, cols);
        if (before !== undefined && before !== cols) this.events.push({ kind: "tables", tables: [{ table: msg.name, schema: msg.schema }], reason: "ddl" });
        return;
      }
      case "insert":
        return this.row({ kind: "insert", table: msg.relation.name, schema: msg.relation.schema, new: msg.new, oldComplete: false });
      case "update":
      case "delete":
        // The old row: whole with REPLICA IDENTITY FULL, else its key when the key changed (or on a delete), else nothing.
        return this.row({
          kind: msg.tag,
          table: msg.relation.name,
          schema: msg.relation.schema,
          old: msg.old ?? msg.key ?? undefined,
          oldComplete: msg.old !== null,
          new: msg.tag === "update" ? msg.new : undefined,
        });
      case "message": {
        if (msg.prefix !== DDL_PREFIX) return;
        const name = Buffer.from(msg.content).toString("utf8");
        const dot = name.indexOf(".");
        this.events.push({ kind: "tables", tables: [{ schema: name.slice(0, dot), table: name.slice(dot + 1) }], reason: "ddl" });
        return;
      }
      case "truncate":
        this.events.push({ kind: "tables", tables: msg.relations.map((r) => ({ table: r.name, schema: r.schema })), reason: "truncate" });
        return;
      case "commit": {
        const events = this.events;
        this.events = [];
        this.last = msg.commitEndLsn ?? this.last;
        const at = Number(BigInt(msg.commitTime as bigint) / 1000n);
        await this.sink.push(events, this.last ?? this.acked(), at);
        return;
      }
      default:
        return;
    }
  }

  private async row(e: RowEvent): Promise<void> {
    this.events.push(e);
    // A long transaction: its changes so far go out with the last commit's position (acknowledging nothing new).
    if (this.events.length >= CHUNK) {
      const events = this.events;
      this.events = [];
      await this.sink.push(events, this.last ?? this.acked());
    }
  }
}
