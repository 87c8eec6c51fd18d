/**
 * The package as an app gets it: a fresh tsup build, packed by `npm pack`,
 * checked by publint and arethetypeswrong, and installed by
 * `npm install <tarball>` into a directory outside the repo.
 *
 * Nothing here reaches the network. The install is `--offline`: the package's
 * own dependencies are overridden with links to the repo's installed copies,
 * and the app's packages (`@prisma/client`, the adapter, ioredis) are links
 * too, so npm only unpacks the tarball and makes links. A dependency the
 * tarball does not declare gets no link and fails to resolve, since the
 * install directory has no node_modules above it.
 * @module
 */
import { execFile } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";

const exec = promisify(execFile);

/** The repository root. */
export const ROOT = path.resolve(import.meta.dirname, "../..");
const MODULES = path.join(ROOT, "node_modules");
const BIN = path.join(MODULES, ".bin");
/** Where the build goes in the package: tsup.config.ts's output directory, where every path of `exports` points. */
const OUT_DIR = "dist";

/** The fields of package.json these checks read. */
export interface Manifest {
  name: string;
  version: string;
  files?: string[];
  exports: Record<string, unknown>;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

/** A packed tarball and what npm says it holds. */
export interface Packed {
  /** Absolute path of the `.tgz`. */
  tarball: string;
  /** The directory it was packed from (package.json, the files it lists, and the build). */
  dir: string;
  /** Paths inside the package, e.g. `dist/index.cjs`. */
  files: string[];
  manifest: Manifest;
}

/** What one tool reported about a tarball: nothing when `problems` is empty. */
export interface Report {
  tool: "publint" | "attw";
  /** One line or block per problem, as the tool words it. */
  problems: string[];
}

/** Reads the repo's package.json. */
export function readManifest(dir = ROOT): Manifest {
  return JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8")) as Manifest;
}

/**
 * Builds src/ with tsup (tsup.config.ts, declarations included) into
 * `<work>/package/dist`, next to a copy of package.json and of every other
 * path that `files` names, and packs that directory with `npm pack` into
 * `work`. Building outside the repo's own dist/ keeps concurrent runs apart.
 * Lifecycle scripts do not run (`prepare` would run `prisma generate`).
 */
export async function packPackage(work: string): Promise<Packed> {
  const dir = path.join(work, "package");
  mkdirSync(dir, { recursive: true });
  const manifest = readManifest();
  // What npm packs whatever `files` says: package.json, README and LICENSE.
  const copied = new Set(["package.json", "README.md", "LICENSE", ...(manifest.files ?? [])]);
  copied.delete(OUT_DIR);
  for (const entry of copied) {
    if (existsSync(path.join(ROOT, entry))) cpSync(path.join(ROOT, entry), path.join(dir, entry), { recursive: true });
  }
  await exec(path.join(BIN, "tsup"), ["--out-dir", path.join(dir, OUT_DIR), "--silent"], { cwd: ROOT });
  return packDirectory(dir, work, manifest);
}

/** `npm pack` of `dir` (scripts off) into `destination`. */
export async function packDirectory(dir: string, destination: string, manifest = readManifest(dir)): Promise<Packed> {
  const { stdout } = await exec("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", destination], { cwd: dir });
  const [info] = JSON.parse(stdout) as { filename: string; files: { path: string }[] }[];
  if (!info) throw new Error(`npm pack printed no result: ${stdout}`);
  return { tarball: path.join(destination, info.filename), dir, files: info.files.map((f) => f.path).sort(), manifest };
}

/** publint on the tarball, every level (suggestions too), warnings as errors. */
export async function publintReport(tarball: string): Promise<Report> {
  const { publint } = await import("publint");
  const { formatMessage } = await import("publint/utils");
  const bytes = readFileSync(tarball);
  const { messages, pkg } = await publint({
    pack: { tarball: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) },
    level: "suggestion",
    strict: true,
  });
  return { tool: "publint", problems: messages.map((m) => `${m.type} ${m.code}: ${formatMessage(m, pkg, { color: false }) ?? m.path.join(".")}`) };
}

/**
 * arethetypeswrong (`attw`, profile strict: node10, node16 from CJS and from
 * ESM, bundler) on the tarball. It exits non-zero when it finds a problem;
 * its table is the report. `--no-definitely-typed`: the package has its own
 * types, and no @types package is to be fetched.
 */
export async function attwReport(tarball: string): Promise<Report> {
  const args = [tarball, "--format", "ascii", "--no-color", "--no-emoji", "--no-definitely-typed", "--profile", "strict"];
  try {
    await exec(path.join(BIN, "attw"), args, { cwd: path.dirname(tarball) });
    return { tool: "attw", problems: [] };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    return { tool: "attw", problems: [[e.stdout, e.stderr].filter(Boolean).join("\n").trim() || e.message] };
  }
}

/** Every problem of a report, one per line, each prefixed with the tool's name (empty when there is none). */
export function describeProblems(reports: Report[]): string {
  return reports.flatMap((r) => r.problems.map((p) => `${r.tool}: ${p}`)).join("\n");
}

/** Packages the consumers load besides the cache: what an app using it installs. */
const APP_PACKAGES = ["@prisma/client", "@prisma/adapter-pg", "ioredis"];

/**
 * Installs the tarball into `dir` (a new directory outside the repo) as an
 * app would: `npm install` of a package.json that depends on it and on
 * {@link APP_PACKAGES}. Offline and without peer resolution
 * (`--legacy-peer-deps`: npm's peer placement fails on linked peers); see
 * the module comment.
 */
export async function installTarball(packed: Packed, dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const link = (name: string) => `file:${path.join(MODULES, name)}`;
  const app = {
    name: "ptc-consumer",
    private: true,
    dependencies: { [packed.manifest.name]: `file:${packed.tarball}`, ...Object.fromEntries(APP_PACKAGES.map((n) => [n, link(n)])) },
    overrides: Object.fromEntries(Object.keys(packed.manifest.dependencies ?? {}).map((n) => [n, link(n)])),
  };
  writeFileSync(path.join(dir, "package.json"), `${JSON.stringify(app, null, 2)}\n`);
  await exec("npm", ["install", "--offline", "--legacy-peer-deps", "--ignore-scripts", "--no-audit", "--no-fund", "--no-package-lock"], { cwd: dir });
}

/**
 * Bundles the generated Prisma client (TypeScript, ESM) into one
 * `<dir>/prisma/client.mjs` that Node runs as is, its `@prisma/client`
 * imports left to resolve from `dir`'s node_modules.
 */
export async function bundleGeneratedClient(dir: string): Promise<string> {
  const { build } = await import("tsup");
  const outDir = path.join(dir, "prisma");
  await build({
    config: false,
    entry: { client: path.join(ROOT, "generated/prisma/client.ts") },
    format: ["esm"],
    target: "node20",
    external: ["@prisma/client", /^@prisma\/client\//],
    outDir,
    outExtension: () => ({ js: ".mjs" }),
    splitting: false,
    dts: false,
    sourcemap: false,
    silent: true,
  });
  return path.join(outDir, "client.mjs");
}
