import { describe, expect, it } from "vitest";
import { chartGroups, formatTime, renderChart, seriesOf, wrap } from "../../bench/chart";
import type { BenchResults, LatencyCase } from "../../bench/lib/types";

/** An element of a parsed XML document. */
interface Element {
  name: string;
  attrs: Record<string, string>;
  children: Element[];
  /** Its text content, its descendants' included, entities decoded. */
  text: string;
}

const NAME = /^[A-Za-z_][\w.:-]*/;
const ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };

/** Decodes the entity references of character data, throwing on a bare `&` or `<`. */
function decode(s: string, where: number): string {
  if (s.includes("<")) throw new Error(`"<" in character data at ${where}`);
  return s.replace(/&([^;\s]*);?/g, (ref, body: string) => {
    if (!ref.endsWith(";")) throw new Error(`unterminated reference ${ref} at ${where}`);
    if (body in ENTITIES) return ENTITIES[body]!;
    const code = /^#x([0-9a-f]+)$/i.exec(body)?.[1] ?? /^#(\d+)$/.exec(body)?.[1];
    if (code === undefined) throw new Error(`unknown entity &${body}; at ${where}`);
    return String.fromCodePoint(body.startsWith("#x") || body.startsWith("#X") ? Number.parseInt(code, 16) : Number(code));
  });
}

/**
 * A strict XML well-formedness check for what the chart may contain
 * (elements, attributes in quotes, text with entity references, comments, an
 * XML declaration); anything else (DOCTYPE, CDATA, processing instructions)
 * is refused. Returns the root element.
 */
function parseXml(doc: string): Element {
  let i = 0;
  const stack: Element[] = [];
  let root: Element | undefined;
  const fail = (why: string): never => {
    throw new Error(`not well-formed at ${i}: ${why} (${JSON.stringify(doc.slice(i, i + 40))})`);
  };
  if (doc.startsWith("<?xml")) {
    const end = doc.indexOf("?>");
    i = end < 0 ? fail("unterminated declaration") : end + 2;
  }
  while (i < doc.length) {
    const lt = doc.indexOf("<", i);
    const text = doc.slice(i, lt < 0 ? doc.length : lt);
    const parent = stack.at(-1);
    if (parent) for (const e of [...stack]) e.text += decode(text, i);
    else if (text.trim()) fail("text outside the root element");
    if (lt < 0) break;
    i = lt;
    if (doc.startsWith("<!--", i)) {
      const end = doc.indexOf("-->", i + 4);
      if (end < 0 || doc.slice(i + 4, end).includes("--")) fail("bad comment");
      i = end + 3;
    } else if (doc.startsWith("</", i)) {
      const name = NAME.exec(doc.slice(i + 2))?.[0] ?? fail("bad end tag");
      const open = stack.pop() ?? fail(`</${name}> with nothing open`);
      if (open.name !== name) fail(`</${name}> closes <${open.name}>`);
      i += 2 + name.length;
      const close = /^\s*>/.exec(doc.slice(i)) ?? fail("bad end tag");
      i += close[0].length;
    } else {
      const name = NAME.exec(doc.slice(i + 1))?.[0] ?? fail("markup other than an element or a comment");
      const el: Element = { name, attrs: {}, children: [], text: "" };
      i += 1 + name.length;
      for (;;) {
        const attr = /^\s+([A-Za-z_][\w.:-]*)\s*=\s*("([^"]*)"|'([^']*)')/.exec(doc.slice(i));
        if (!attr) break;
        if (attr[1]! in el.attrs) fail(`attribute ${attr[1]} twice`);
        el.attrs[attr[1]!] = decode(attr[3] ?? attr[4]!, i);
        i += attr[0].length;
      }
      const end = /^\s*(\/?)>/.exec(doc.slice(i)) ?? fail(`bad tag <${name}>`);
      i += end[0].length;
      if (parent) parent.children.push(el);
      else if (root) fail("a second root element");
      else root = el;
      if (!end[1]) stack.push(el);
    }
  }
  if (stack.length) throw new Error(`<${stack.at(-1)!.name}> is never closed`);
  return root ?? fail("no root element");
}

function all(el: Element, test: (e: Element) => boolean): Element[] {
  return [...(test(el) ? [el] : []), ...el.children.flatMap((c) => all(c, test))];
}

const hasClass = (e: Element, c: string) => (e.attrs.class ?? "").split(/\s+/).includes(c);

function latencyCase(label: string, medianUs: number, p99Us: number): LatencyCase {
  return { label, medianUs, p99Us, meanUs: medianUs, minUs: medianUs, maxUs: p99Us, iterations: 100 };
}

/** A label to escape, wrap onto two lines and cut. */
const ODD_LABEL = `a label with <markup> & "quotes" that is long enough to be wrapped onto a second line, and then goes on long enough to be cut at its end`;

/** Five measured cases in two groups, a stampede variant that did not run, and a hit-ratio group (no latency). */
const FIXTURE: BenchResults = {
  date: "2026-01-02T03:04:05.000Z",
  machine: { cpu: "Test CPU", cores: 2, node: "v20.0.0", os: "Linux" },
  servers: { postgres: "local", redis: "local" },
  library: "tsup build",
  revision: "abc1234",
  groups: {
    "read-path": {
      kind: "latency",
      title: "Read path",
      notes: [],
      cases: {
        l1: latencyCase("cached findUnique, L1 hit", 2, 4),
        hook: latencyCase("baseline A: Map cache in $allOperations hook", 20, 50),
        odd: latencyCase(ODD_LABEL, 200, 300),
        noop: latencyCase("calibration: empty call", 0.2, 0.4),
      },
      ratios: {},
      targets: {},
      seconds: 1,
    },
    "hit-ratio": { kind: "hit-ratio", title: "Hit ratio", notes: [], runs: {}, figures: {}, checks: {}, seconds: 1 },
    stampede: {
      kind: "stampede",
      title: "Stampede",
      notes: [],
      variants: {
        ptc: { label: "prisma-tiered-cache, default", dbQueries: 1, p50Ms: 20, p99Ms: 30, maxMs: 31, bursts: [burst()] },
        per: { label: "prisma-extension-redis 5.0.0", notRun: "not installed", dbQueries: Number.NaN, p50Ms: 0, p99Ms: 0, maxMs: 0, bursts: [] },
      },
      checks: {},
      seconds: 1,
    },
  },
};

function burst() {
  return { dbQueries: 1, statements: 1, perProcess: [1], calls: 10, failed: 0, p50Ms: 20, p99Ms: 30, maxMs: 31, startSkewMs: 0 };
}

describe("bench/chart.ts", () => {
  const svg = renderChart(FIXTURE);
  const root = parseXml(svg);
  const bars = all(root, (e) => e.name === "rect" && hasClass(e, "bar"));
  const caseOf = (bar: Element) => all(root, (e) => e.children.includes(bar))[0]!.attrs["data-case"];

  it("is a well-formed SVG document with a title and a description first", () => {
    expect(root.name).toBe("svg");
    expect(root.attrs.xmlns).toBe("http://www.w3.org/2000/svg");
    expect(root.attrs.role).toBe("img");
    expect(root.children.slice(0, 2).map((e) => e.name)).toEqual(["title", "desc"]);
    expect(root.attrs["aria-labelledby"]).toBe(`${root.children[0]!.attrs.id} ${root.children[1]!.attrs.id}`);
    expect(root.children[0]!.text).toMatch(/log scale/);
  });

  it("draws one bar per measured case, in results order, and none for a variant that did not run or a hit-ratio group", () => {
    expect(bars.map(caseOf)).toEqual(["l1", "hook", "odd", "noop", "ptc"]);
    const groups = all(root, (e) => hasClass(e, "group")).map((g) => g.attrs["data-group"]);
    expect(groups).toEqual(["read-path", "stampede"]);
    const notRun = all(root, (e) => e.attrs["data-case"] === "per")[0]!;
    expect(notRun.text).toContain("not run: not installed");
  });

  it("places bars on one log scale: equal ratios give equal lengths", () => {
    const width = (id: string) => Number(bars.find((b) => caseOf(b) === id)!.attrs.width);
    const decade = width("hook") - width("l1"); // 2 µs to 20 µs
    expect(decade).toBeGreaterThan(0);
    expect(width("odd") - width("hook")).toBeCloseTo(decade, 0); // 20 µs to 200 µs
    expect(width("ptc") - width("odd")).toBeCloseTo(2 * decade, 0); // 200 µs to 20 ms (the stampede p50)
    expect(new Set(bars.map((b) => b.attrs.x)).size).toBe(1);
  });

  it("colours this library, peers and references apart, with a legend for each", () => {
    const series = Object.fromEntries(bars.map((b) => [caseOf(b), b.attrs.class!.split(" ")[1]]));
    expect(series).toEqual({ l1: "ptc", hook: "peer", odd: "ptc", noop: "reference", ptc: "ptc" });
    const legend = all(root, (e) => hasClass(e, "legend"))[0]!;
    expect(all(legend, (e) => hasClass(e, "swatch")).map((e) => e.attrs.class)).toEqual(["swatch ptc", "swatch peer", "swatch reference"]);
    expect(legend.text).toContain("p99");
  });

  it("escapes labels, and gives every row a tooltip with its figures", () => {
    const odd = all(root, (e) => e.attrs["data-case"] === "odd")[0]!;
    expect(odd.children[0]!.name).toBe("title");
    expect(odd.children[0]!.text).toBe(`${ODD_LABEL}: median 200 µs, p99 300 µs`);
    const lines = odd.children.filter((e) => hasClass(e, "label")).map((e) => e.text);
    expect(lines).toHaveLength(2);
    expect(lines[1]!.endsWith("…")).toBe(true);
    const stampede = all(root, (e) => e.attrs["data-case"] === "ptc")[0]!;
    expect(stampede.text).toContain("1 DB query per burst");
  });

  it("(the well-formedness check refuses what is not well-formed)", () => {
    for (const bad of ["<a><b></a></b>", "<a>x & y</a>", "<a b=c/>", '<a b="1" b="2"/>', "<a/><b/>", "<a>", "<a><![CDATA[x]]></a>", "<a>&nbsp;</a>"]) {
      expect(() => parseXml(bad), bad).toThrow();
    }
    expect(parseXml('<?xml version="1.0"?><a x="&lt;&#65;"><!-- c --><b>&amp;</b></a>').attrs.x).toBe("<A");
  });

  it("is the same for the same results", () => {
    expect(renderChart(structuredClone(FIXTURE))).toBe(svg);
  });

  it("formats times, wraps labels and classifies peers as the tables do", () => {
    expect([0.108, 2.285, 24.055, 579.55, 1121.563, 996716.479, 2137545].map(formatTime)).toEqual([
      "108 ns",
      "2.29 µs",
      "24.1 µs",
      "580 µs",
      "1.12 ms",
      "997 ms",
      "2.14 s",
    ]);
    expect(wrap("one two three four", 9, 2)).toEqual(["one two", "three…"]);
    expect(wrap("one two", 9, 2)).toEqual(["one two"]);
    expect(seriesOf("prisma-extension-redis 5.0.0 (auto-cache, ttl 60 s)")).toBe("peer");
    expect(seriesOf("no cache (plain client): every read queries")).toBe("reference");
    expect(seriesOf("baseline B: ioredis GET + decode()")).toBe("reference");
    expect(seriesOf("cached update by id, 10 entries of Post cached")).toBe("ptc");
    expect(chartGroups(FIXTURE).map((g) => g.rows.length)).toEqual([4, 2]);
  });
});
