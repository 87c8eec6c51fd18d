/**
 * Renders bench/results.json: text tables for the terminal, and the markdown
 * that replaces what lies between `<!-- bench:start -->` and
 * `<!-- bench:end -->` in docs/benchmarks.md. Each group gets its tables
 * there once: the cases (median, p99, iterations) or runs, the figures with
 * their targets, and the harness's self-checks. Without the file or without
 * both markers, the markdown is printed and no file is written.
 *
 * Run by bench/run.ts at the end; also runnable alone, from results.json
 * without running anything: `npm run bench:report` (`npx tsx bench/report.ts`).
 * @module
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { BenchResults, Check, GroupResult, HitRatioGroup, HitRatioRun, LatencyGroup, StampedeGroup, ThroughputRun } from "./lib/types";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
/** Default location of the results file. */
export const RESULTS_PATH = path.join(ROOT, "bench", "results.json");
/** The page whose marked section is regenerated: every group's tables. */
export const BENCHMARKS_PATH = path.join(ROOT, "docs", "benchmarks.md");
export const START_MARKER = "<!-- bench:start -->";
export const END_MARKER = "<!-- bench:end -->";

type Table = { head: string[]; rows: string[][]; right: boolean[] };

const us = (v: number) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));
const times = (v: number) => `${v.toFixed(2)}×`;
const yesNo = (met: boolean | undefined) => (met === undefined ? "" : met ? "yes" : "**no**");

function latencyTables(g: LatencyGroup): Table[] {
  const cases: Table = {
    head: ["Case", "Median (µs)", "p99 (µs)", "Iterations"],
    right: [false, true, true, true],
    rows: Object.values(g.cases).map((c) => [
      c.label + (c.servedBy && !c.servedBy.ok ? ` (only ${c.servedBy.calls} of ${c.iterations} from ${c.servedBy.tier.toUpperCase()})` : ""),
      us(c.medianUs),
      us(c.p99Us),
      String(c.iterations),
    ]),
  };
  const figures: Table = {
    head: ["Figure", "Value", "Target", "Met"],
    right: [false, true, false, false],
    rows: [
      ...Object.values(g.targets).map((t) => [t.label, t.unit ? `${t.value} ${t.unit}` : `${us(t.value)} µs`, t.target, yesNo(t.met)]),
      ...Object.values(g.ratios).map((r) => [r.label, times(r.value), r.target ?? "", yesNo(r.met)]),
    ],
  };
  const checks = g.checks && Object.keys(g.checks).length ? [checksTable(g.checks)] : [];
  return [cases, ...(figures.rows.length ? [figures] : []), ...checks];
}

const percent = (v: number) => `${(v * 100).toFixed(1)} %`;
const count = (v: number) => String(v);

function checksTable(checks: Record<string, Check>): Table {
  return {
    head: ["Check", "Observed", "OK"],
    right: [false, true, false],
    rows: Object.values(checks).map((c) => [c.label, c.value, yesNo(c.ok)]),
  };
}

/** A column of a table, shown only when some row has a value for it. */
type Column<T> = { head: string; right: boolean; cell: (row: T) => string | undefined };

/** The table of `rows` with the columns that have a value in some row (empty cells where a row has none). */
function columnTable<T>(rows: T[], columns: Column<T>[]): Table {
  const shown = columns.filter((c) => rows.some((r) => c.cell(r) !== undefined));
  return {
    head: shown.map((c) => c.head),
    right: shown.map((c) => c.right),
    rows: rows.map((r) => shown.map((c) => c.cell(r) ?? "")),
  };
}

const HIT_RATIO_COLUMNS: Column<HitRatioRun>[] = [
  { head: "Case", right: false, cell: (r) => r.label },
  { head: "Reads", right: true, cell: (r) => count(r.reads) },
  { head: "Writes", right: true, cell: (r) => count(r.writes) },
  { head: "L1 hits", right: true, cell: (r) => count(r.hits.l1) },
  { head: "L2 hits", right: true, cell: (r) => count(r.hits.l2) },
  { head: "Misses", right: true, cell: (r) => count(r.misses) },
  { head: "Coalesced", right: true, cell: (r) => (r.coalesced === undefined ? undefined : count(r.coalesced)) },
  { head: "Fills refused", right: true, cell: (r) => count(r.fillsRefused) },
  { head: "Hit ratio (stats)", right: true, cell: (r) => percent(r.hitRatio) },
  { head: "Reads that hit the DB (counted)", right: true, cell: (r) => r.db && count(r.db.reads) },
  { head: "Hit ratio (DB)", right: true, cell: (r) => r.db && percent(r.db.hitRatio) },
  { head: "Predicted", right: true, cell: (r) => (r.predictedHitRatio === undefined ? undefined : percent(r.predictedHitRatio)) },
];

const THROUGHPUT_COLUMNS: Column<ThroughputRun>[] = [
  { head: "Case", right: false, cell: (r) => r.label },
  { head: "Operations", right: true, cell: (r) => count(r.operations) },
  { head: "In flight", right: true, cell: (r) => count(r.concurrency) },
  { head: "Operations/s", right: true, cell: (r) => r.opsPerSecond.toFixed(0) },
  { head: "Median (µs)", right: true, cell: (r) => us(r.medianUs) },
  { head: "p99 (µs)", right: true, cell: (r) => us(r.p99Us) },
  { head: "Read median (µs)", right: true, cell: (r) => us(r.readMedianUs) },
  { head: "Write median (µs)", right: true, cell: (r) => us(r.writeMedianUs) },
];

function hitRatioTables(g: HitRatioGroup): Table[] {
  const runs = columnTable(Object.values(g.runs), HIT_RATIO_COLUMNS);
  const throughput = g.throughput && Object.keys(g.throughput).length ? [columnTable(Object.values(g.throughput), THROUGHPUT_COLUMNS)] : [];
  const figures: Table = {
    head: ["Figure", "Value", "Target", "Met"],
    right: [false, true, false, false],
    rows: Object.values(g.figures).map((f) => [f.label, f.value, f.target ?? "", yesNo(f.met)]),
  };
  return [figures, runs, ...throughput, checksTable(g.checks)];
}

const msFig = (v: number | null) => (v === null || Number.isNaN(v) ? "" : v >= 100 ? v.toFixed(0) : v.toFixed(1));

function stampedeTables(g: StampedeGroup): Table[] {
  const variants: Table = {
    head: ["Variant", "DB queries (median of rounds)", "p50 ms", "p99 ms", "max ms", "DB queries per round"],
    right: [false, true, true, true, true, true],
    rows: Object.values(g.variants).map((v) =>
      v.bursts.length === 0
        ? [v.label, `not run: ${v.notRun ?? "unknown"}`, "", "", "", ""]
        : [
            v.label + (v.notRun ? ` (${v.notRun})` : ""),
            String(v.dbQueries),
            msFig(v.p50Ms),
            msFig(v.p99Ms),
            msFig(v.maxMs),
            v.bursts.map((b) => b.dbQueries).join(", "),
          ],
    ),
  };
  return [variants, checksTable(g.checks)];
}

/** A group's tables, in the order they are shown. */
function tablesOf(g: GroupResult): Table[] {
  switch (g.kind) {
    case "latency":
      return latencyTables(g);
    case "hit-ratio":
      return hitRatioTables(g);
    case "stampede":
      return stampedeTables(g);
  }
}

function markdownTable(t: Table): string {
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  return [line(t.head), line(t.right.map((r) => (r ? "---:" : "---"))), ...t.rows.map(line)].join("\n");
}

function textTable(t: Table): string {
  const clean = (s: string) => s.replace(/\*\*/g, "");
  const widths = t.head.map((h, i) => Math.max(h.length, ...t.rows.map((r) => clean(r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (t.right[i] ? clean(c).padStart(widths[i]!) : clean(c).padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [line(t.head), widths.map((w) => "-".repeat(w)).join("  "), ...t.rows.map(line)].join("\n");
}

function machineLine(r: BenchResults): string {
  const m = r.machine;
  return `${r.date.slice(0, 10)}, ${m.cpu} (${m.cores} cores), Node ${m.node}, ${m.os}`;
}

/** The markdown for the section of docs/benchmarks.md (without the markers): every group's tables. */
export function renderMarkdown(results: BenchResults): string {
  const parts: string[] = [];
  for (const g of Object.values(results.groups)) parts.push(`## ${g.title}`, "", ...tablesOf(g).flatMap((t) => [markdownTable(t), ""]));
  parts.push(`Measured ${machineLine(results)}, on the ${results.library}, revision ${results.revision}.`);
  return parts.join("\n");
}

/** The tables as plain text, for the terminal. */
export function renderText(results: BenchResults): string {
  const parts: string[] = [];
  for (const [name, g] of Object.entries(results.groups)) {
    parts.push(`${g.title}  [${name}, ${g.seconds} s]`, "", ...tablesOf(g).flatMap((t) => [textTable(t), ""]));
  }
  parts.push(
    `${machineLine(results)}`,
    `library: ${results.library}, revision ${results.revision}`,
    `postgres: ${results.servers.postgres}; redis: ${results.servers.redis}`,
  );
  return parts.join("\n");
}

/**
 * Replaces the marked section of `docsPath` with the tables of `results`.
 * Returns false (and writes nothing) when the file or a marker is missing.
 */
export function updateDocs(results: BenchResults, docsPath = BENCHMARKS_PATH): boolean {
  return replaceSection(docsPath, renderMarkdown(results));
}

/** Replaces what lies between the markers of `file` with `markdown`; false when the file or a marker is missing. */
function replaceSection(file: string, markdown: string): boolean {
  if (!existsSync(file)) return false;
  const text = readFileSync(file, "utf8");
  const start = text.indexOf(START_MARKER);
  const end = text.indexOf(END_MARKER, start + START_MARKER.length);
  if (start < 0 || end < 0) return false;
  const next = `${text.slice(0, start + START_MARKER.length)}\n${markdown}\n${text.slice(end)}`;
  if (next !== text) writeFileSync(file, next);
  return true;
}

/** Reads `resultsPath` and updates docs/benchmarks.md, or prints the markdown when it cannot. */
export function report(resultsPath = RESULTS_PATH, docsPath = BENCHMARKS_PATH): void {
  const results = JSON.parse(readFileSync(resultsPath, "utf8")) as BenchResults;
  const shown = path.relative(process.cwd(), docsPath) || docsPath;
  if (updateDocs(results, docsPath)) {
    console.log(`Updated the benchmark tables in ${shown}.`);
  } else {
    console.log(`${shown} has no ${START_MARKER} … ${END_MARKER} section; markdown:\n`);
    console.log(renderMarkdown(results));
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) report();
