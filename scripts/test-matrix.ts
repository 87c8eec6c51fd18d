/**
 * CONTRIBUTING.md's test matrix, written from vitest.config.ts: each vitest
 * project with its database, its Redis and its settings, then which test
 * files each project runs. The config is the one source; this script
 * rewrites the section between `<!-- matrix:start -->` and
 * `<!-- matrix:end -->`, and a unit test (test/unit/contributing.test.ts)
 * fails when that section differs from what it would write.
 *
 * Run: `npm run docs:matrix`.
 * @module
 */
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import config from "../vitest.config";

/** The repository's root. */
export const ROOT = fileURLToPath(new URL("..", import.meta.url));

/** The markers of the generated section. */
export const START = "<!-- matrix:start -->";
export const END = "<!-- matrix:end -->";

/** One vitest project as the matrix shows it. */
export interface MatrixProject {
  name: string;
  /** Projects with the same order run side by side; lower first. */
  order: number;
  database: string;
  redis: string;
  /** Environment the project sets besides the database (`PTC_REDIS_OPTIONS=fail-fast`). */
  settings: string[];
  /** The test files it runs (type tests included), relative to the root, sorted. */
  files: string[];
}

/** The part of a vitest project's settings the matrix reads. */
interface ProjectTest {
  name?: string;
  include?: string[];
  exclude?: string[];
  globalSetup?: string | string[];
  env?: Record<string, string>;
  sequence?: { groupOrder?: number };
  typecheck?: { enabled?: boolean; include?: string[]; exclude?: string[] };
}

/** What each `PTC_DB` value is (test/support/providers.ts). */
const DATABASES: Record<string, string> = {
  postgresql: "Postgres",
  mysql: "MariaDB",
  "mysql-rm": 'MariaDB, `relationMode = "prisma"`',
  sqlite: "SQLite",
};

/** What each global setup starts for Redis. */
const REDIS_OF_SETUP: Record<string, string> = {
  "test/setup/global.ts": "one Redis",
  "test/setup/global-cluster.ts": "a Redis Cluster (3 masters)",
};

/** A glob of vitest's `include`/`exclude` (`**`, `*`, `?`) as a regular expression over root-relative paths. */
export function globToRegExp(glob: string): RegExp {
  if (/[{}[\]!]/.test(glob)) throw new Error(`test-matrix: unsupported glob syntax in ${glob}`);
  let re = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === "*" && glob[i + 1] === "*") {
      const slash = glob[i + 2] === "/";
      re += slash ? "(?:.*/)?" : ".*";
      i += slash ? 2 : 1;
    } else if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else re += c.replace(/[.+^$()|\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}

/** Every file under the directories the patterns start in, relative to `root`. */
function filesUnder(root: string, patterns: readonly string[]): string[] {
  const dirs = new Set(
    patterns.map((p) => {
      const parts = p.split("/");
      const glob = parts.findIndex((s) => /[*?]/.test(s));
      return parts.slice(0, Math.min(glob < 0 ? parts.length : glob, parts.length - 1)).join("/");
    }),
  );
  const out = new Set<string>();
  const walk = (dir: string): void => {
    for (const e of readdirSync(join(root, dir), { withFileTypes: true })) {
      if (e.name === "node_modules" || e.name === ".git") continue;
      const path = dir === "" ? e.name : `${dir}/${e.name}`;
      if (e.isDirectory()) walk(path);
      else out.add(path);
    }
  };
  for (const d of dirs) walk(d);
  return [...out];
}

/** The files matching one of `include` and none of `exclude`. */
function matching(root: string, include: readonly string[], exclude: readonly string[]): string[] {
  const inc = include.map(globToRegExp);
  const exc = exclude.map(globToRegExp);
  return filesUnder(root, include).filter((f) => inc.some((r) => r.test(f)) && !exc.some((r) => r.test(f)));
}

/** The projects of vitest.config.ts, in the order they run. */
export function projects(root = ROOT): MatrixProject[] {
  const list = (config.test?.projects ?? []) as unknown[];
  const out: MatrixProject[] = [];
  for (const p of list) {
    if (typeof p !== "object" || p === null || !("test" in p)) throw new Error("test-matrix: every project in vitest.config.ts must be an inline object");
    const t = (p as { test: ProjectTest }).test;
    if (!t.name || !t.include) throw new Error("test-matrix: every project needs a name and an include list");
    const setups = t.globalSetup === undefined ? [] : [t.globalSetup].flat();
    const redis = setups.map((s) => REDIS_OF_SETUP[s]).find((r) => r !== undefined);
    if (setups.length > 0 && redis === undefined) throw new Error(`test-matrix: unknown global setup in project ${t.name}: ${setups.join(", ")}`);
    const env = t.env ?? {};
    const db = redis === undefined ? "none" : DATABASES[env.PTC_DB ?? "postgresql"];
    if (db === undefined) throw new Error(`test-matrix: unknown PTC_DB in project ${t.name}: ${env.PTC_DB}`);
    const exclude = t.exclude ?? ["**/node_modules/**", "**/.git/**"];
    const files = matching(root, t.include, exclude);
    if (t.typecheck?.enabled) files.push(...matching(root, t.typecheck.include ?? [], t.typecheck.exclude ?? []));
    out.push({
      name: t.name,
      order: t.sequence?.groupOrder ?? 0,
      database: db,
      redis: redis ?? "none",
      settings: Object.entries(env)
        .filter(([k]) => k !== "PTC_DB")
        .map(([k, v]) => `${k}=${v}`),
      files: [...new Set(files)].sort(),
    });
  }
  return out.sort((a, b) => a.order - b.order);
}

/**
 * The rows of the file table. In a directory, the files that run in the
 * projects more than half of its files run in are one row (`every file`,
 * or `every other file` when the rest are listed one by one).
 */
function fileRows(ps: readonly MatrixProject[]): Array<{ label: string; in: Set<string> }> {
  const byFile = new Map<string, Set<string>>();
  for (const p of ps) for (const f of p.files) (byFile.get(f) ?? byFile.set(f, new Set()).get(f)!).add(p.name);
  const dirOf = (f: string) => f.slice(0, f.lastIndexOf("/") + 1);
  const key = (s: Set<string>) => [...s].sort().join(",");
  const files = [...byFile.keys()].sort();
  const rows: Array<{ label: string; in: Set<string> }> = [];
  for (const dir of [...new Set(files.map(dirOf))]) {
    const inDir = files.filter((f) => dirOf(f) === dir);
    const count = new Map<string, number>();
    for (const f of inDir) count.set(key(byFile.get(f)!), (count.get(key(byFile.get(f)!)) ?? 0) + 1);
    const [common, n] = [...count].sort((a, b) => b[1] - a[1])[0]!;
    const grouped = inDir.length > 1 && n * 2 > inDir.length ? common : undefined;
    const first = inDir.find((f) => key(byFile.get(f)!) === grouped);
    for (const f of inDir) {
      if (key(byFile.get(f)!) !== grouped) rows.push({ label: `\`${f}\``, in: byFile.get(f)! });
      else if (f === first) rows.push({ label: `\`${dir}\` (${n === inDir.length ? "every file" : "every other file"})`, in: byFile.get(f)! });
    }
  }
  return rows;
}

/** The section between the markers (markers excluded), as the script writes it. */
export function matrixSection(root = ROOT): string {
  const ps = projects(root);
  const lines = [
    "<!-- Written by `npm run docs:matrix` from vitest.config.ts: change the config, then run it. -->",
    "",
    "| Order | Project | Database | Redis | Settings |",
    "| --- | --- | --- | --- | --- |",
    ...ps.map((p) => `| ${p.order} | \`${p.name}\` | ${p.database} | ${p.redis} | ${p.settings.map((s) => `\`${s}\``).join(", ")} |`),
    "",
    `| File | ${ps.map((p) => `\`${p.name}\``).join(" | ")} |`,
    `| --- | ${ps.map(() => ":-:").join(" | ")} |`,
    ...fileRows(ps).map((r) => `| ${r.label} | ${ps.map((p) => (r.in.has(p.name) ? "✓" : "")).join(" | ")} |`),
  ];
  return `\n${lines.join("\n")}\n`;
}

/** `text` with the section between the markers replaced by `section`. */
export function withSection(text: string, section: string): string {
  const start = text.indexOf(START);
  const end = text.indexOf(END);
  if (start < 0 || end < start) throw new Error(`test-matrix: CONTRIBUTING.md lacks the ${START} … ${END} markers`);
  return text.slice(0, start + START.length) + section + text.slice(end);
}

/** The section of `text` between the markers. */
export function sectionOf(text: string): string | undefined {
  const start = text.indexOf(START);
  const end = text.indexOf(END);
  return start < 0 || end < start ? undefined : text.slice(start + START.length, end);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const path = join(ROOT, "CONTRIBUTING.md");
  const before = readFileSync(path, "utf8");
  const after = withSection(before, matrixSection());
  if (after === before) console.log(`${relative(process.cwd(), path)}: the test matrix is up to date`);
  else {
    writeFileSync(path, after);
    console.log(`${relative(process.cwd(), path)}: the test matrix was rewritten`);
  }
}
