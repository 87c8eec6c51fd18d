/**
 * Renders bench/results.json as an SVG chart, bench/results.svg: one
 * horizontal bar per measured case on one log-scale time axis (cases span
 * 0.1 µs to seconds), the median as the bar and the p99 as a whisker, grouped
 * as in results.json. This library, peers (other libraries and hand-rolled
 * caches) and reference floors (no cache, a bare Redis read, calibration)
 * have their own colours, so that peers stand next to the cases they compare
 * with. Stampede variants show their per-call p50 and p99 and the database
 * queries a burst caused. Hit-ratio groups have no latency; they stay in the
 * tables.
 *
 * Hand-written SVG, no browser: text widths are estimated, so labels are
 * wrapped by character count. The output depends only on the results (no
 * clock), so regenerating it from the same results.json changes nothing.
 *
 * Run by bench/run.ts after it writes results.json; also runnable alone:
 * `npm run bench:chart` (`npx tsx bench/chart.ts [results.json] [out.svg]`).
 * @module
 */
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { BenchResults, GroupResult } from "./lib/types";
import { RESULTS_PATH } from "./report";

/** Default location of the chart. */
export const CHART_PATH = path.join(path.dirname(RESULTS_PATH), "results.svg");

/** Which colour a case gets. */
export type Series = "ptc" | "peer" | "reference";

/**
 * How a case's label says what it measures, first match wins; every other
 * case is this library. A new peer in the benchmarks needs its name here.
 */
export const SERIES_RULES: readonly { series: Series; label: RegExp }[] = [
  { series: "reference", label: /\b(uncached|no cache|floor|calibration|baseline B)\b/i },
  { series: "peer", label: /prisma-extension-redis|\$allOperations hook|\bbaseline A\b|accelerate|bentocache|cachalot|keyv/i },
];

const SERIES: Record<Series, { name: string; colour: string }> = {
  ptc: { name: "prisma-tiered-cache", colour: "#0072B2" },
  peer: { name: "peer (another library, a hand-rolled cache)", colour: "#E69F00" },
  reference: { name: "reference (no cache, bare Redis read, calibration)", colour: "#9A9A9A" },
};

/** The series of a case label (see {@link SERIES_RULES}). */
export function seriesOf(label: string): Series {
  return SERIES_RULES.find((r) => r.label.test(label))?.series ?? "ptc";
}

/** One bar of the chart. */
export interface ChartRow {
  /** The case's id in its group. */
  id: string;
  label: string;
  series: Series;
  /** The bar, µs; absent when the case did not run. */
  medianUs?: number;
  /** The whisker, µs. */
  p99Us?: number;
  /** A second line under the value, e.g. "1 DB query per burst". */
  note?: string;
}

/** A group of bars, in results.json's order. */
export interface ChartGroup {
  /** The group's name in results.json. */
  name: string;
  title: string;
  /** What the bar and the whisker are. */
  subtitle: string;
  rows: ChartRow[];
}

const plain = (s: string) => s.replace(/`/g, "");

/** The groups the chart shows (those with latencies), in order, with their rows. */
export function chartGroups(results: BenchResults): ChartGroup[] {
  return Object.entries(results.groups).flatMap(([name, g]) => {
    const group = groupOf(name, g);
    return group ? [group] : [];
  });
}

function groupOf(name: string, g: GroupResult): ChartGroup | undefined {
  switch (g.kind) {
    case "latency":
      return {
        name,
        title: plain(g.title),
        subtitle: "median time per call (bar) and p99 (whisker)",
        rows: Object.entries(g.cases).map(([id, c]) => ({
          id,
          label: plain(c.label),
          series: seriesOf(c.label),
          medianUs: c.medianUs,
          p99Us: c.p99Us,
          note: c.servedBy && !c.servedBy.ok ? `only ${c.servedBy.calls} of ${c.iterations} from ${c.servedBy.tier.toUpperCase()}` : undefined,
        })),
      };
    case "stampede":
      return {
        name,
        title: plain(g.title),
        subtitle: "time per call in a burst: p50 (bar) and p99 (whisker), medians over the bursts; database queries per burst",
        rows: Object.entries(g.variants).map(([id, v]) =>
          v.bursts.length === 0
            ? { id, label: plain(v.label), series: seriesOf(v.label), note: `not run: ${v.notRun ?? "unknown"}` }
            : {
                id,
                label: plain(v.label),
                series: seriesOf(v.label),
                medianUs: v.p50Ms * 1000,
                p99Us: v.p99Ms * 1000,
                note: `${v.dbQueries} DB ${v.dbQueries === 1 ? "query" : "queries"} per burst`,
              },
        ),
      };
    case "hit-ratio":
      return undefined;
  }
}

/** A time in µs as the tables write it: 3 significant figures at most, in ns, µs, ms or s. */
export function formatTime(us: number): string {
  const [value, unit] = us >= 1e6 ? [us / 1e6, "s"] : us >= 1e3 ? [us / 1e3, "ms"] : us >= 1 ? [us, "µs"] : [us * 1e3, "ns"];
  return `${value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2)} ${unit}`;
}

/** A power of ten of µs as a tick label: 100 ns, 1 µs, … 10 s. */
function tickLabel(exp: number): string {
  const us = 10 ** exp;
  const [value, unit] = exp >= 6 ? [us / 1e6, "s"] : exp >= 3 ? [us / 1e3, "ms"] : exp >= 0 ? [us, "µs"] : [us * 1e3, "ns"];
  return `${Math.round(value)} ${unit}`;
}

/** Escapes text for SVG content and attribute values. */
export function xml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&apos;");
}

/** Splits `text` at spaces into at most `lines` lines of `width` characters; the last one ends in … when text is left over. */
export function wrap(text: string, width: number, lines: number): string[] {
  const out: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (!line || line.length + 1 + word.length <= width) line = line ? `${line} ${word}` : word;
    else {
      out.push(line);
      line = word;
    }
  }
  if (line) out.push(line);
  if (out.length <= lines && out.every((l) => l.length <= width)) return out;
  const kept = out.slice(0, lines);
  const last = kept.length - 1;
  kept[last] = `${kept[last]!.slice(0, width - 1).trimEnd()}…`;
  return kept;
}

// Layout, px. Labels are 12 px sans-serif, about 6.3 px a character.
const WIDTH = 960;
const LEFT = 16;
const LABEL_CHARS = 58;
const PLOT_X0 = 392;
const PLOT_X1 = 784;
const VALUE_X = 796;
const ROW_H = 32;
const BAR_H = 12;
const GROUP_HEAD = 40;
const GROUP_GAP = 14;
const AXIS_H = 22;

const px = (n: number) => String(Math.round(n * 10) / 10);

/** Renders the chart for `results` (the whole SVG document). */
export function renderChart(results: BenchResults): string {
  const groups = chartGroups(results);
  const times = groups.flatMap((g) => g.rows.flatMap((r) => [r.medianUs, r.p99Us])).filter((v): v is number => v !== undefined && v > 0);
  // Half a decade of room below the fastest case, so that its bar shows.
  const lo = Math.floor(Math.log10(Math.min(...times, 1)) - 0.5);
  const hi = Math.max(lo + 1, Math.ceil(Math.log10(Math.max(...times, 1))));
  const x = (us: number) => PLOT_X0 + ((Math.log10(Math.max(us, 10 ** lo)) - lo) / (hi - lo)) * (PLOT_X1 - PLOT_X0);

  const decades = Array.from({ length: hi - lo + 1 }, (_, i) => lo + i);
  const ticks = (ty: number) => decades.map((e) => `<text class="tick" x="${px(x(10 ** e))}" y="${px(ty)}">${tickLabel(e)}</text>`).join("");
  const grid = (y1: number, y2: number) =>
    decades.map((e) => `<line class="grid" x1="${px(x(10 ** e))}" y1="${px(y1)}" x2="${px(x(10 ** e))}" y2="${px(y2)}"/>`).join("");

  const top = 104;
  const body: string[] = [`<g class="axis">${ticks(top + 10)}</g>`];
  let y = top + AXIS_H;
  for (const g of groups) {
    body.push(`<g class="group" data-group="${xml(g.name)}">`);
    body.push(`<text class="group-title" x="${LEFT}" y="${px(y + 16)}">${xml(wrap(g.title, 130, 1)[0]!)}</text>`);
    body.push(`<text class="sub" x="${LEFT}" y="${px(y + 31)}">${xml(g.subtitle)}</text>`);
    y += GROUP_HEAD;
    body.push(grid(y, y + g.rows.length * ROW_H));
    for (const r of g.rows) body.push(renderRow(r, y, x, 10 ** lo)), (y += ROW_H);
    body.push("</g>");
    y += GROUP_GAP;
  }
  const bottom = y - GROUP_GAP;
  body.push(`<g class="axis">${ticks(bottom + 16)}</g>`);

  const height = bottom + 52;
  const m = results.machine;
  const measured = `Measured ${results.date.slice(0, 10)}, ${m.cpu} (${m.cores} cores), Node ${m.node}, revision ${results.revision}.`;
  const title = "prisma-tiered-cache benchmarks: time per call, by case (log scale)";
  const desc =
    `Horizontal bars on a logarithmic time axis from ${tickLabel(lo)} to ${tickLabel(hi)}, one per benchmark case, grouped by benchmark: ` +
    groups.map((g) => `${g.title} (${g.rows.length} cases)`).join("; ") +
    `. Blue bars are prisma-tiered-cache, orange bars peers, grey bars references. ${measured}`;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${px(height)}" viewBox="0 0 ${WIDTH} ${px(height)}" role="img" aria-labelledby="chart-title chart-desc">`,
    `<title id="chart-title">${xml(title)}</title>`,
    `<desc id="chart-desc">${xml(desc)}</desc>`,
    "<style>",
    "text { font-family: -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif; font-size: 12px; fill: #1f2328; }",
    ".heading { font-size: 16px; font-weight: 600; } .group-title { font-size: 13px; font-weight: 600; }",
    ".sub, .note, .tick, .footer { font-size: 11px; fill: #59636e; } .tick { text-anchor: middle; }",
    ".grid { stroke: #d1d9e0; stroke-width: 1; } .whisker { stroke: #1f2328; stroke-width: 1.2; }",
    ...Object.entries(SERIES).map(([s, { colour }]) => `.${s} { fill: ${colour}; }`),
    "</style>",
    `<rect class="background" x="0" y="0" width="${WIDTH}" height="${px(height)}" fill="#ffffff"/>`,
    `<text class="heading" x="${LEFT}" y="26">${xml(title)}</text>`,
    `<text class="sub" x="${LEFT}" y="44">${xml(measured)}</text>`,
    renderLegend(66),
    ...body,
    `<text class="footer" x="${LEFT}" y="${px(height - 12)}">Log scale: each gridline is 10× the one to its left. Hit ratios and self-checks are in the tables (docs/benchmarks.md).</text>`,
    "</svg>",
    "",
  ].join("\n");
}

function renderRow(r: ChartRow, y: number, x: (us: number) => number, origin: number): string {
  const mid = y + ROW_H / 2;
  const lines = wrap(r.label, LABEL_CHARS, 2);
  const labelY = lines.length === 1 ? [mid + 4] : [mid - 3, mid + 11];
  const label = lines.map((l, i) => `<text class="label" x="${LEFT}" y="${px(labelY[i]!)}">${xml(l)}</text>`).join("");
  const tooltip =
    r.medianUs === undefined
      ? `${r.label}: ${r.note ?? "not run"}`
      : `${r.label}: median ${formatTime(r.medianUs)}${r.p99Us !== undefined ? `, p99 ${formatTime(r.p99Us)}` : ""}${r.note ? `, ${r.note}` : ""}`;
  const parts = [`<g class="row" data-case="${xml(r.id)}"><title>${xml(tooltip)}</title>`, label];
  if (r.medianUs !== undefined) {
    const x0 = x(origin);
    parts.push(`<rect class="bar ${r.series}" x="${px(x0)}" y="${px(mid - BAR_H / 2)}" width="${px(x(r.medianUs) - x0)}" height="${BAR_H}" rx="1"/>`);
    if (r.p99Us !== undefined && r.p99Us > r.medianUs) {
      const [a, b] = [px(x(r.medianUs)), px(x(r.p99Us))];
      parts.push(`<path class="whisker" d="M${a} ${px(mid)}H${b}M${b} ${px(mid - 4)}V${px(mid + 4)}" fill="none"/>`);
    }
  }
  const value = r.medianUs === undefined ? "" : formatTime(r.medianUs);
  const valueY = r.note && value ? [mid - 2, mid + 11] : [mid + 4];
  if (value) parts.push(`<text class="value" x="${VALUE_X}" y="${px(valueY[0]!)}">${xml(value)}</text>`);
  if (r.note) parts.push(`<text class="note" x="${VALUE_X}" y="${px(valueY[value ? 1 : 0]!)}">${xml(wrap(r.note, 26, 1)[0]!)}</text>`);
  parts.push("</g>");
  return parts.join("");
}

function renderLegend(y: number): string {
  const items: string[] = [];
  let lx = LEFT;
  for (const [s, { name }] of Object.entries(SERIES)) {
    items.push(`<rect class="swatch ${s}" x="${lx}" y="${y - 9}" width="14" height="10" rx="1"/>`);
    items.push(`<text x="${lx + 20}" y="${y}">${xml(name)}</text>`);
    lx += 20 + name.length * 6.3 + 24;
  }
  items.push(`<path class="whisker" d="M${px(lx)} ${y - 4}H${px(lx + 22)}M${px(lx + 22)} ${y - 8}V${y}" fill="none"/>`);
  items.push(`<text x="${px(lx + 28)}" y="${y}">p99</text>`);
  return `<g class="legend">${items.join("")}</g>`;
}

/** Reads `resultsPath`, writes the chart to `chartPath`, and returns the SVG. */
export function writeChart(resultsPath = RESULTS_PATH, chartPath = CHART_PATH): string {
  const svg = renderChart(JSON.parse(readFileSync(resultsPath, "utf8")) as BenchResults);
  writeFileSync(chartPath, svg);
  return svg;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [resultsPath = RESULTS_PATH, chartPath = CHART_PATH] = process.argv.slice(2);
  writeChart(resultsPath, chartPath);
  console.log(`Wrote ${path.relative(process.cwd(), chartPath) || chartPath} from ${path.relative(process.cwd(), resultsPath) || resultsPath}.`);
}
