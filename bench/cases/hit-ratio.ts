/**
 * Hit ratio: one seeded, zipf-distributed read/write sequence over the rows
 * of one model, run twice in the same run: with precise dependencies (the
 * default: a `findUnique` depends on its row, a page on the rows it returned
 * and the fields its selection reads) and with `rowLevel: false` (every
 * cached read depends on the whole model, so every write invalidates every
 * cached read of it). Fresh clients and a namespace of their own for each run.
 *
 * - Rows: {@link DEFAULTS}.rows Post rows. Popularity: zipf (exponent ~1)
 *   over the rows, in a seeded random order of ids.
 * - Operations (mulberry32, fixed seed): 10 % `update` by id of a
 *   zipf-chosen row, 5 % `findMany` of a page of 10 rows from a zipf-chosen
 *   page, 85 % `findUnique` by id of a zipf-chosen row. Run one at a time.
 * - Hit ratio = (hits.l1 + hits.l2) / cacheable reads, from `$cache.stats()`.
 *   Checked against the database: a driver adapter counts the SELECTs that
 *   each read sends; a read that sent none was a hit. Both must agree, and
 *   agree with what the documented dependency rules predict for the sequence
 *   (docs/how-it-works.md, "What a read depends on"):
 *   an update of `views` (a field no page reads) makes stale only its row's
 *   `findUnique` and the page holding the row; with `rowLevel: false`, every
 *   read.
 * - At the end, every row and every page is read through the cached client
 *   and through a plain one: the results must be equal.
 * @module
 */
import { isDeepStrictEqual } from "node:util";
import { PrismaPg } from "@prisma/adapter-pg";
import { Redis } from "ioredis";
import { PrismaClient } from "../../generated/prisma/client";
import { createCountingAdapter } from "../../test/support/counting-adapter";
import { mulberry32 } from "../../test/support/prng";
import type { BenchEnv } from "../lib/env";
import { shuffled, zipf } from "../lib/sequence";
import type { Check, Figure, HitRatioGroup, HitRatioRun } from "../lib/types";

/** Knobs of the hit-ratio group. */
export interface HitRatioOptions {
  /** Rows of the model. */
  rows?: number;
  /** Operations in the sequence. */
  operations?: number;
  /** Share of writes. */
  writeShare?: number;
  /** Share of page reads (`findMany`, `pageSize` rows); the rest are `findUnique` by id. */
  pageShare?: number;
  pageSize?: number;
  /** Zipf exponent. */
  exponent?: number;
  /** PRNG seed. */
  seed?: number;
}

const DEFAULTS: Required<HitRatioOptions> = {
  rows: 2_000,
  operations: 20_000,
  writeShare: 0.1,
  pageShare: 0.05,
  pageSize: 10,
  exponent: 1.0,
  seed: 0x5eed_cafe,
};

type Op = { kind: "unique"; id: number } | { kind: "page"; start: number } | { kind: "write"; id: number };

/** The operation sequence, from the seed alone (ids are offsets from the first row's id). */
function operations(o: Required<HitRatioOptions>, firstId: number): Op[] {
  const random = mulberry32(o.seed);
  const pages = Math.ceil(o.rows / o.pageSize);
  const rowOfRank = shuffled(
    Array.from({ length: o.rows }, (_, i) => firstId + i),
    random,
  );
  const pageOfRank = shuffled(
    Array.from({ length: pages }, (_, i) => firstId + i * o.pageSize),
    random,
  );
  const row = zipf(o.rows, o.exponent, random);
  const page = zipf(pages, o.exponent, random);
  const ops: Op[] = [];
  for (let i = 0; i < o.operations; i++) {
    const u = random();
    if (u < o.writeShare) ops.push({ kind: "write", id: rowOfRank[row()]! });
    else if (u < o.writeShare + o.pageShare) ops.push({ kind: "page", start: pageOfRank[page()]! });
    else ops.push({ kind: "unique", id: rowOfRank[row()]! });
  }
  return ops;
}

/**
 * Hits the documented rules predict (docs/how-it-works.md, "What a read
 * depends on"): a read is a miss the first time and after
 * a write that bumps what it depends on. Nothing is evicted (L1 holds every
 * entry; L2 entries outlive the run).
 * - Precise (row level): `findUnique` by id depends on its row; a page on the
 *   rows it returned (`r:`), on `f:Post.id` (its where and orderBy), `s:Post`
 *   and `b:Post`. The write, `update` by id of `views`, bumps its row,
 *   `f:Post.views` and `m:Post`, none of which a page reads unless it holds
 *   the row: it makes stale that row's `findUnique` and the one page holding
 *   it (ids are contiguous from `firstId`, pages start every `pageSize` ids).
 * - Model level: every read depends on the model; any write clears everything.
 */
function predictHits(ops: Op[], rowLevel: boolean, firstId: number, pageSize: number): number {
  const rows = new Set<number>();
  const pages = new Set<number>();
  let hits = 0;
  for (const op of ops) {
    if (op.kind === "write") {
      if (rowLevel) {
        rows.delete(op.id);
        pages.delete(firstId + Math.floor((op.id - firstId) / pageSize) * pageSize);
      } else {
        rows.clear();
        pages.clear();
      }
    } else {
      const set = op.kind === "unique" ? rows : pages;
      const key = op.kind === "unique" ? op.id : op.start;
      if (set.has(key)) hits++;
      else set.add(key);
    }
  }
  return hits;
}

const pct = (v: number) => `${(v * 100).toFixed(1)} %`;
const fmt = (n: number) => n.toLocaleString("en-US");

/** Runs the hit-ratio group. Disconnects everything it opened. */
export async function hitRatio(env: BenchEnv, options: HitRatioOptions = {}): Promise<HitRatioGroup> {
  const started = Date.now();
  const o = { ...DEFAULTS, ...options };
  const { prismaCache } = env.library;
  const url = await env.database("hit_ratio");
  const truth = new PrismaClient({ adapter: new PrismaPg({ connectionString: url }) });
  const redis = new Redis(env.redisUrl);
  const opened: PrismaClient[] = [truth];
  const closers: (() => Promise<void>)[] = [];
  try {
    await truth.$connect();
    await truth.$executeRawUnsafe(
      `INSERT INTO "Post" ("title", "content", "published") SELECT 'post ' || g, 'content of post ' || g, g % 2 = 0 FROM generate_series(1, ${o.rows}) AS g`,
    );
    const firstId = (await truth.post.findFirst({ orderBy: { id: "asc" }, select: { id: true } }))!.id;
    const ops = operations(o, firstId);
    const pageStarts = Array.from({ length: Math.ceil(o.rows / o.pageSize) }, (_, i) => firstId + i * o.pageSize);
    const checks: Record<string, Check> = {};
    // The prediction places each row in the page starting at the multiple of pageSize below it: the ids must have no gap.
    const span = await truth.post.aggregate({ _count: { _all: true }, _min: { id: true }, _max: { id: true } });
    checks.contiguous = {
      label: "Post ids: rows, first and last (contiguous, as the prediction assumes)",
      value: `${fmt(span._count._all)}, ${span._min.id} to ${span._max.id}`,
      ok: span._count._all === o.rows && span._min.id === firstId && span._max.id === firstId + o.rows - 1,
    };

    const run = async (id: "rowLevel" | "modelLevel", label: string, short: string, rowLevel: boolean): Promise<HitRatioRun> => {
      const t0 = Date.now();
      const { adapter, counter: statements } = createCountingAdapter(url);
      // Running tallies over the adapter's statement log (each entry looked at once).
      // The cache's own database fingerprint (one query, before its first L2 read) is not a read of the workload.
      let scanned = 0;
      let selectCount = 0;
      let fingerprints = 0;
      const scan = () => {
        for (; scanned < statements.log.length; scanned++) {
          const q = statements.log[scanned]!;
          if (q.sql.includes("prisma-tiered-cache: database fingerprint")) fingerprints++;
          else if (q.kind === "query" && !q.inTransaction && /^\s*(\(\s*)*select\b/i.test(q.sql)) selectCount++;
        }
      };
      const counter = {
        get queries() {
          scan();
          return statements.queries - fingerprints;
        },
        get selects() {
          scan();
          return selectCount;
        },
        get fingerprints() {
          scan();
          return fingerprints;
        },
      };
      const base = new PrismaClient({ adapter });
      opened.push(base);
      await base.$connect();
      const client = base.$extends(prismaCache({ ttl: 600, redis, namespace: env.namespace(`hit-ratio-${id}`), rowLevel }));
      closers.push(() => client.$cache.close());
      // The cache flushes L1 when its bus connects: start only after that.
      await client.$cache.ready();
      const page = (start: number) => ({ where: { id: { gte: start } }, orderBy: { id: "asc" as const }, take: o.pageSize });

      let reads = 0;
      let writes = 0;
      let dbReads = 0;
      let dbSelects = 0;
      let otherStatements = 0;
      for (const op of ops) {
        const queries = counter.queries;
        const selects = counter.selects;
        if (op.kind === "write") {
          await client.post.update({ where: { id: op.id }, data: { views: { increment: 1 } } });
          writes++;
          continue;
        }
        if (op.kind === "unique") await client.post.findUnique({ where: { id: op.id } });
        else await client.post.findMany(page(op.start));
        reads++;
        if (counter.queries > queries) dbReads++;
        dbSelects += counter.selects - selects;
        otherStatements += counter.queries - queries - (counter.selects - selects);
      }
      const s = client.$cache.stats();
      const hits = s.hits.l1 + s.hits.l2;
      const predicted = predictHits(ops, rowLevel, firstId, o.pageSize);

      checks[`${id}Agree`] = {
        label: `${short}: stats vs database: hits / reads without a SELECT, misses / reads with one, SELECTs`,
        value: `${fmt(hits)} / ${fmt(reads - dbReads)}, ${fmt(s.misses)} / ${fmt(dbReads)}, ${fmt(dbSelects)}`,
        ok: hits === reads - dbReads && s.misses === dbReads && dbSelects === dbReads && otherStatements === 0,
      };
      checks[`${id}Fingerprint`] = {
        label: `${short}: the cache's database fingerprint queries (taken once, not counted as reads above)`,
        value: String(counter.fingerprints),
        ok: counter.fingerprints === 1,
      };
      checks[`${id}Predicted`] = {
        label: `${short}: hits / hits predicted by the documented dependency rules`,
        value: `${fmt(hits)} / ${fmt(predicted)}`,
        ok: hits === predicted,
      };
      checks[`${id}Clean`] = {
        label: `${short}: bypasses, coalesced, fills refused, Redis errors`,
        value: `${s.bypasses}, ${s.coalesced}, ${s.fillsRefused}, ${s.redisErrors}`,
        ok: s.bypasses === 0 && s.coalesced === 0 && s.fillsRefused === 0 && s.redisErrors === 0,
      };

      // Correctness: every row and every page, cached vs uncached.
      let compared = 0;
      let different = 0;
      for (let i = 0; i < o.rows; i++) {
        const where = { id: firstId + i };
        compared++;
        if (!isDeepStrictEqual(await client.post.findUnique({ where }), await truth.post.findUnique({ where }))) different++;
      }
      for (const start of pageStarts) {
        compared++;
        if (!isDeepStrictEqual(await client.post.findMany(page(start)), await truth.post.findMany(page(start)))) different++;
      }
      checks[`${id}Correct`] = {
        label: `${short}: cached = uncached after the sequence (every row and every page)`,
        value: different === 0 ? `${fmt(compared)} equal` : `${fmt(different)} of ${fmt(compared)} differ`,
        ok: different === 0,
      };

      return {
        label,
        reads,
        writes,
        hits: { ...s.hits },
        misses: s.misses,
        fills: s.fills,
        fillsRefused: s.fillsRefused,
        hitRatio: hits / reads,
        db: { reads: dbReads, selects: dbSelects, hitRatio: (reads - dbReads) / reads },
        predictedHitRatio: predicted / reads,
        seconds: Math.round((Date.now() - t0) / 100) / 10,
      };
    };

    const rowLevel = await run("rowLevel", "precise dependencies (default)", "precise", true);
    const modelLevel = await run("modelLevel", "model-level only (rowLevel: false)", "model-level", false);
    const figures: Record<string, Figure> = {
      rowLevel: { label: "hit ratio, precise dependencies", value: pct(rowLevel.hitRatio) },
      modelLevel: { label: "hit ratio, model-level only", value: pct(modelLevel.hitRatio) },
      difference: { label: "difference (precise − model-level)", value: `${((rowLevel.hitRatio - modelLevel.hitRatio) * 100).toFixed(1)} points` },
      misses: { label: "misses, model-level ÷ precise", value: `${(modelLevel.misses / rowLevel.misses).toFixed(2)}×` },
    };
    const uniques = ops.filter((op) => op.kind === "unique").length;
    return {
      kind: "hit-ratio",
      title: `Hit ratio: zipf ${o.exponent} over ${fmt(o.rows)} Post rows, ${fmt(o.operations)} operations (${Math.round((1 - o.writeShare) * 100)} % reads, ${Math.round(o.writeShare * 100)} % writes), precise vs model-level dependencies`,
      notes: [
        `Sequence: mulberry32(seed ${o.seed}), ${fmt(uniques)} findUnique by id, ${fmt(ops.length - uniques - rowLevel.writes)} findMany pages of ${o.pageSize} (orderBy id, take ${o.pageSize}), ${fmt(rowLevel.writes)} update by id (views + 1); rows and pages chosen by zipf ranks mapped to ids in a seeded random order.`,
        "The same sequence is run twice, one operation at a time, each with a fresh PrismaClient and cached client: prismaCache({ ttl: 600, redis, namespace }) with default L1, and the same with rowLevel: false.",
        "Hit ratio from $cache.stats() = (hits.l1 + hits.l2) / reads; checked against SELECTs counted at the driver adapter per read, and against a replay of the documented dependency rules.",
        "Precise rules replayed: a findUnique by id depends on its row; a page on the rows it returned, f:Post.id (its where and orderBy), s:Post and b:Post. The update of views bumps its row, f:Post.views and m:Post, so it makes stale that row's findUnique and the one page holding the row; with rowLevel: false every read depends on m:Post and any write makes everything stale.",
      ],
      runs: { rowLevel, modelLevel },
      figures,
      checks,
      seconds: Math.round((Date.now() - started) / 100) / 10,
    };
  } finally {
    for (const close of closers) await close();
    for (const c of opened) await c.$disconnect();
    redis.disconnect();
  }
}
