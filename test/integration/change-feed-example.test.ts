/**
 * The change feed example (examples/change-feed): two processes cache a
 * read, `psql` (or a plain connection when psql is missing) renames the
 * user, and both read the new name. Run as `npm run example:change-feed`
 * runs it, on the test's database and Redis.
 */
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { redisUrl } from "../support/db";
import { useSeededDatabase } from "../support/harness";

const t = useSeededDatabase();
const ROOT = fileURLToPath(new URL("../..", import.meta.url));

describe("examples/change-feed", () => {
  it("an outside write reaches both processes' caches", async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ["--import", "tsx", "examples/change-feed/main.ts"], {
      cwd: ROOT,
      env: { ...process.env, DATABASE_URL: t.url(), REDIS_URL: redisUrl() },
      timeout: 90_000,
    });
    expect(stdout).toMatch(/process 1: Ada \(renamed by psql\)/);
    expect(stdout).toMatch(/process 2: Ada \(renamed by psql\)/);
    expect(stdout).toContain("both processes read the new name");
  }, 120_000);
});
