/**
 * The change feed source for a database URL: Postgres logical replication,
 * the MySQL/MariaDB binlog, or SQLite's `data_version`. Each source's module
 * is loaded when it starts, with the driver it needs.
 * @module
 */
import type { ResolvedOptions } from "../config.js";
import type { FeedSink, FeedSource } from "./source.js";

/** The database kind a feed URL names. */
export function feedKind(url: string): FeedSource["kind"] {
  if (/^postgres(ql)?:/.test(url)) return "postgresql";
  if (/^(mysql|mariadb):/.test(url)) return "mysql";
  return "sqlite";
}

/** A new source for the feed's options, reading `tables` (the tables the cache knows). */
export function feedSource(o: NonNullable<ResolvedOptions["changeFeed"]>, tables: readonly string[]): FeedSource {
  const kind = feedKind(o.url);
  switch (kind) {
    case "postgresql":
      return loaded({ kind, keepsPosition: true }, async () =>
        (await import("./postgres.js")).postgresSource({ url: o.url, slot: o.slot, publication: o.publication, tables, create: o.create }),
      );
    case "mysql":
      return loaded({ kind, keepsPosition: false }, async () => (await import("./mysql.js")).mysqlSource({ url: o.url, tables: new Set(tables) }));
    default:
      return loaded({ kind, keepsPosition: false }, async () => (await import("./sqlite.js")).sqliteSource({ url: o.url, pollMs: o.pollMs }));
  }
}

/** A source whose module is loaded when it starts. */
function loaded({ kind, keepsPosition }: Pick<FeedSource, "kind" | "keepsPosition">, load: () => Promise<FeedSource>): FeedSource {
  let source: FeedSource | undefined;
  return {
    kind,
    keepsPosition,
    async start(sink: FeedSink, from: string | undefined) {
      source ??= await load();
      return source.start(sink, from);
    },
    acknowledge: (position: string) => source?.acknowledge(position) ?? Promise.resolve(),
    stop: () => source?.stop() ?? Promise.resolve(),
  };
}
