/**
 * The Prisma client of each kind of test database, generated from one
 * schema by scripts/generate.mjs: `generated/prisma` (PostgreSQL),
 * `generated/prisma-mysql` (MySQL/MariaDB), `generated/prisma-mysql-rm`
 * (MySQL/MariaDB with relationMode = "prisma") and `generated/prisma-sqlite`
 * (SQLite). Free of vitest.
 * @module
 */
import { type Prisma, PrismaClient } from "../../generated/prisma/client";
import { PrismaClient as MysqlPrismaClient } from "../../generated/prisma-mysql/client";
import { PrismaClient as MysqlRelationModePrismaClient } from "../../generated/prisma-mysql-rm/client";
import { PrismaClient as SqlitePrismaClient } from "../../generated/prisma-sqlite/client";
import type { DatabaseKind } from "./providers";

/**
 * A `PrismaClient` of the client generated for `kind`. It is typed as
 * the Postgres client: all are generated from one schema, so their
 * models and arguments are the same (the few provider-only operations, such
 * as `createManyAndReturn`, which MySQL lacks, fail at run time instead).
 */
export function newPrismaClient(kind: DatabaseKind, options: Prisma.PrismaClientOptionsWithAdapter): PrismaClient {
  switch (kind) {
    case "postgresql":
      return new PrismaClient(options);
    case "mysql":
      return new MysqlPrismaClient(options as ConstructorParameters<typeof MysqlPrismaClient>[0]) as unknown as PrismaClient;
    case "mysql-rm":
      return new MysqlRelationModePrismaClient(options as ConstructorParameters<typeof MysqlRelationModePrismaClient>[0]) as unknown as PrismaClient;
    case "sqlite":
      return new SqlitePrismaClient(options as ConstructorParameters<typeof SqlitePrismaClient>[0]) as unknown as PrismaClient;
  }
}
