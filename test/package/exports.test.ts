/**
 * The published package: one fresh build, packed, checked by publint and
 * arethetypeswrong, installed from the tarball into a directory outside the
 * repo, and loaded there by an ESM and a CJS consumer against the test
 * Postgres and Redis (see ./tarball.ts for how the install stays offline).
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { cpSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { pathToFileURL, fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createMigratedDatabase, withClient } from "../support/servers";
import {
  attwReport,
  bundleGeneratedClient,
  describeProblems,
  installTarball,
  packDirectory,
  packPackage,
  publintReport,
  readManifest,
  type Manifest,
  type Packed,
} from "./tarball";

const exec = promisify(execFile);
const work = mkdtempSync(path.join(os.tmpdir(), "ptc-package-"));
/** The app directory the tarball is installed into. */
const app = path.join(work, "app");
const installed = path.join(app, "node_modules", "prisma-tiered-cache");

/** The consumers' database, migrated; named so that a shared server's cleanup of this run drops it too. */
const dbName = `ptc_${inject("ptcRunId")}_package_${process.pid}_${randomBytes(2).toString("hex")}`;

let packed: Packed;
let databaseUrl: string | undefined;
let generatedClient: string;

beforeAll(async () => {
  [packed, databaseUrl] = await Promise.all([packPackage(work), createMigratedDatabase(inject("ptcPgAdminUrl"), dbName)]);
  await installTarball(packed, app);
  cpSync(path.join(import.meta.dirname, "consumer"), app, { recursive: true });
  generatedClient = await bundleGeneratedClient(app);
}, 120_000);

afterAll(async () => {
  if (databaseUrl) await withClient(inject("ptcPgAdminUrl"), (c) => c.query(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`));
  rmSync(work, { recursive: true, force: true });
});

type Conditions = Record<string, Record<string, string>>;
const rootExport = (m: Manifest) => m.exports["."] as Conditions;

describe("the packed tarball", () => {
  it("holds package.json, the README and dist/, with every file the exports map names", () => {
    expect(packed.files.filter((f) => !f.startsWith("dist/") && f !== "package.json" && f !== "README.md")).toEqual([]);
    const named = Object.values(rootExport(packed.manifest)).flatMap((c) => Object.values(c).map((f) => path.posix.normalize(f)));
    expect(packed.files).toEqual(expect.arrayContaining(named));
  });

  it("has no problem publint or arethetypeswrong reports", async () => {
    const reports = await Promise.all([publintReport(packed.tarball), attwReport(packed.tarball)]);
    expect(describeProblems(reports)).toBe("");
  });

  it("would fail both checks if require's types were the ESM declarations (the checks can fail)", async () => {
    const broken = path.join(work, "broken");
    cpSync(packed.dir, broken, { recursive: true });
    const manifest = readManifest(broken);
    rootExport(manifest).require = { types: "./dist/index.d.ts", default: "./dist/index.cjs" };
    writeFileSync(path.join(broken, "package.json"), JSON.stringify(manifest, null, 2));
    const { tarball } = await packDirectory(broken, broken, manifest);
    const [publint, attw] = await Promise.all([publintReport(tarball), attwReport(tarball)]);
    expect(publint.problems.join("\n")).toMatch(/require\.types types is interpreted as ESM/);
    expect(attw.problems.join("\n")).toMatch(/node16 \(from CJS\): Masquerading as ESM/);
  });
});

describe("the installed package", () => {
  it("exposes ESM and CJS builds with type declarations through the exports map", async () => {
    const manifest = readManifest(installed);
    const conditions = rootExport(manifest);
    const esm = (await import(pathToFileURL(path.join(installed, conditions.import!.default!)).href)) as Record<string, unknown>;
    const cjs = createRequire(path.join(app, "index.cjs"))("prisma-tiered-cache") as Record<string, unknown>;
    for (const mod of [esm, cjs]) {
      expect(typeof mod.prismaCache).toBe("function");
      expect(typeof mod.CacheConfigError).toBe("function");
    }
    for (const types of [conditions.import!.types!, conditions.require!.types!]) {
      const dts = readFileSync(path.join(installed, types), "utf8");
      expect(dts).toContain("declare function prismaCache");
      // Public types carry no `any` (comments aside).
      const code = dts.replace(/\/\*[\s\S]*?\*\//g, "").replace(/\/\/.*$/gm, "");
      expect(code).not.toMatch(/\bany\b/);
    }
  });

  it("validates options in the CJS build", () => {
    const cjs = createRequire(path.join(app, "index.cjs"))("prisma-tiered-cache") as { prismaCache: (o: unknown) => unknown };
    expect(() => cjs.prismaCache({ ttl: -1 })).toThrow(/ttl/);
  });
});

/** One step of a consumer's scenario (test/package/consumer/scenario.mjs), with its cache's counters after it. */
interface Step {
  name: string;
  value: { name: string };
  stats: { l1: number; l2: number; misses: number };
}

/** Runs a consumer in the app directory with a clean environment; returns what it printed. */
async function runConsumer(file: string, flavor: string): Promise<{ resolved: string; steps: Step[] }> {
  return (await runConsumerJson(file, flavor)) as { resolved: string; steps: Step[] };
}

/** Runs a consumer in the app directory with a clean environment; returns the JSON of its last line. */
async function runConsumerJson(file: string, flavor: string): Promise<unknown> {
  const env = {
    PATH: process.env.PATH ?? "",
    DATABASE_URL: databaseUrl!,
    REDIS_URL: inject("ptcRedisUrl"),
    PTC_NAMESPACE: `ptc:${path.basename(work)}:${flavor}`,
    PTC_CLIENT: generatedClient,
    PTC_FLAVOR: flavor,
  };
  const { stdout } = await exec(process.execPath, [file], { cwd: app, env, timeout: 25_000 });
  return JSON.parse(stdout.trim().split("\n").at(-1)!);
}

/** What both consumers must see: a miss, an L1 hit, an L2 hit in a cache without L1, then the write read back by both. */
const EXPECTED: Step[] = [
  { name: "miss", value: { name: "before" }, stats: { l1: 0, l2: 0, misses: 1 } },
  { name: "hit", value: { name: "before" }, stats: { l1: 1, l2: 0, misses: 1 } },
  { name: "l2", value: { name: "before" }, stats: { l1: 0, l2: 1, misses: 0 } },
  { name: "write", value: { name: "after" }, stats: { l1: 1, l2: 0, misses: 1 } },
  { name: "after-write", value: { name: "after" }, stats: { l1: 1, l2: 0, misses: 2 } },
  { name: "l2-after-write", value: { name: "after" }, stats: { l1: 0, l2: 2, misses: 0 } },
];

describe("consumers of the tarball, on the test Postgres and Redis", () => {
  it("an ESM app that imports it caches, hits L1 and L2, and reads its write", async () => {
    const out = await runConsumer("esm.mjs", "esm");
    expect(realpathSync(fileURLToPath(out.resolved))).toBe(realpathSync(path.join(installed, "dist/index.js")));
    expect(out.steps).toEqual(EXPECTED);
  });

  it("an app that loads both builds: a declaration made with one copy is seen by the other's cache", async () => {
    const out = (await runConsumerJson("mixed.mjs", "mixed")) as Record<string, unknown>;
    expect(out).toEqual({
      twoCopies: true,
      esmCache: { l1: 1, misses: 1, bypasses: 0 },
      cjsCache: { l1: 1, misses: 1, bypasses: 0 },
      instanceOf: { config: true, base: true, usage: false, error: true },
    });
  });

  it("a CommonJS app that requires it caches, hits L1 and L2, and reads its write", async () => {
    const out = await runConsumer("cjs.cjs", "cjs");
    expect(realpathSync(out.resolved)).toBe(realpathSync(path.join(installed, "dist/index.cjs")));
    expect(out.steps).toEqual(EXPECTED);
  });
});
