/**
 * The Prisma client of each test provider, generated from one schema:
 * `generated/prisma` (PostgreSQL), `generated/prisma-mysql` (MySQL/MariaDB)
 * and `generated/prisma-sqlite` (SQLite), by scripts/generate.mjs. Free of
 * vitest.
 * @module
 */
import { type Prisma, PrismaClient } from "../../generated/prisma/client";
import { PrismaClient as MysqlPrismaClient } from "../../generated/prisma-mysql/client";
import { PrismaClient as SqlitePrismaClient } from "../../generated/prisma-sqlite/client";
import type { Provider } from "./providers";

/**
 * A `PrismaClient` of the client generated for `provider`. It is typed as
 * the Postgres client: the three are generated from one schema, so their
 * models and arguments are the same (the few provider-only operations, such
 * as `createManyAndReturn`, which MySQL lacks, fail at run time instead).
 */
export function newPrismaClient(provider: Provider, options: Prisma.PrismaClientOptionsWithAdapter): PrismaClient {
  switch (provider) {
    case "postgresql":
      return new PrismaClient(options);
    case "mysql":
      return new MysqlPrismaClient(options as ConstructorParameters<typeof MysqlPrismaClient>[0]) as unknown as PrismaClient;
    case "sqlite":
      return new SqlitePrismaClient(options as ConstructorParameters<typeof SqlitePrismaClient>[0]) as unknown as PrismaClient;
  }
}
