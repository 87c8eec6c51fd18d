/**
 * The committed migrations of the run's provider (PTC_DB) make the database
 * that the Postgres migrations, which Prisma wrote, make: the same tables,
 * columns and nullability, primary keys, unique and plain indexes (with
 * Prisma's names), and foreign keys with their referential actions. The
 * MySQL and SQLite migrations are written by hand (no schema engine here),
 * so this is what checks them; only the differences Prisma itself makes
 * between providers are allowed, each named below. On `mysql-rm` (the
 * relationMode = "prisma" schema) they are checked against the same
 * database without its foreign keys, with the index Prisma's schema rule
 * adds for each relation no index starts with.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClient, createTestDatabase, type DatabaseKind, databaseKind, provider, type TestDatabase } from "../support/db";
import { type Provider, providerOfKind } from "../support/providers";
import { parsePostgresMigrations, readShape, type SchemaShape } from "../support/schema-shape";
import { MIGRATIONS_DIR, readMigrations } from "../support/servers";

/** The Postgres shape as Prisma migrates the same schema on `target`. */
function onProvider(postgres: SchemaShape, target: Provider): SchemaShape {
  if (target === "postgresql") return postgres;
  const out: SchemaShape = structuredClone(postgres);
  for (const [name, table] of Object.entries(out)) {
    // Implicit m-n join tables: a primary key (A, B) on Postgres since Prisma 6, a unique index on MySQL and SQLite.
    if (/^_\w+To\w+$/.test(name)) {
      table.unique = { [`${name}_AB_unique`]: table.primaryKey, ...table.unique };
      table.primaryKey = [];
    }
    // SQLite keeps no names for foreign keys.
    if (target === "sqlite") for (const fk of table.foreignKeys) fk.name = undefined;
  }
  return out;
}

/**
 * The shape on `kind`: on `mysql-rm` no foreign keys (Prisma creates none
 * under relationMode = "prisma"), and an index `<table>_<columns>_idx` on
 * the columns of each foreign key that no key or index starts with, the
 * `@@index` prisma/mysql-rm/schema.prisma adds for that relation.
 */
function onKind(postgres: SchemaShape, kind: DatabaseKind): SchemaShape {
  const out = onProvider(postgres, providerOfKind(kind));
  if (kind !== "mysql-rm") return out;
  for (const [name, table] of Object.entries(out)) {
    const keys = () => [table.primaryKey, ...Object.values(table.unique), ...Object.values(table.indexes)];
    for (const fk of table.foreignKeys) {
      if (!keys().some((key) => fk.columns.every((c, i) => key[i] === c))) table.indexes[`${name}_${fk.columns.join("_")}_idx`] = fk.columns;
    }
    table.foreignKeys = [];
    table.indexes = Object.fromEntries(Object.entries(table.indexes).sort(([a], [b]) => a.localeCompare(b)));
  }
  return out;
}

describe(`committed migrations on ${databaseKind()}`, () => {
  let db: TestDatabase;
  let client: ReturnType<typeof createClient>;
  beforeAll(async () => {
    db = await createTestDatabase();
    client = createClient(db.url);
  });
  afterAll(async () => {
    await client?.prisma.$disconnect();
    await db?.drop();
  });

  it("make the tables, keys, indexes and foreign keys the Postgres migrations make", async () => {
    const postgres = parsePostgresMigrations((await readMigrations(MIGRATIONS_DIR)).map((m) => m.sql));
    expect(Object.keys(postgres).length).toBeGreaterThan(10);
    const actual = await readShape(provider(), (sql) => client.prisma.$queryRawUnsafe(sql));
    expect(actual).toEqual(onKind(postgres, databaseKind()));
  });
});
