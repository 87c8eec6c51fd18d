/**
 * The change feed on PostgreSQL: how soon an outside write reaches cached
 * reads in another process, and how many changes one consumer applies per
 * second.
 *
 * - One consumer: a cached client with `changeFeed` in this process, on the
 *   group's Redis and database (Post with `REPLICA IDENTITY FULL`). A reader:
 *   a cached client without the feed, in a child process of its own
 *   (bench/lib/feed-reader-child.ts), same namespace.
 * - Lag: the reader caches a post (its reads hit L1), then reads it over and
 *   over; a write sets the post's views; the lag is from just before the
 *   write is sent to the reader's first read of the new value (one clock:
 *   `performance.timeOrigin + performance.now()`). Outside writes are plain
 *   SQL on a connection without the cache (`synchronous_commit = on`). The
 *   baseline, interleaved with them in the same run: the same update made
 *   through a cached client (its bump reaches the reader over the bus).
 * - Throughput: changes applied by the consumer (`stats().feed.applied`)
 *   per second, from just before the writes are sent until it has applied
 *   them all: one transaction updating {@link DEFAULTS}.bulkRows rows; and
 *   {@link DEFAULTS}.singles one-row transactions from 8 connections, written
 *   while no consumer runs and then applied by one that starts (so that the
 *   rate is the consumer's, not the writers').
 * @module
 */
import { type ChildProcess, fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { PrismaPg } from "@prisma/adapter-pg";
import { Redis } from "ioredis";
import pg from "pg";
import { PrismaClient } from "../../generated/prisma/client";
import type { BenchEnv } from "../lib/env";
import { ratio, Samples } from "../lib/measure";
import type { Check, LatencyGroup } from "../lib/types";

/** Knobs of the change-feed group. */
export interface ChangeFeedBenchOptions {
  /** Lag samples of each kind (outside, app). */
  samples?: number;
  /** Rows of the one-transaction throughput run. */
  bulkRows?: number;
  /** One-row transactions of the second throughput run. */
  singles?: number;
}

const DEFAULTS: Required<ChangeFeedBenchOptions> = { samples: 200, bulkRows: 20_000, singles: 5_000 };

const now = () => performance.timeOrigin + performance.now();

/** Runs the change-feed group. */
export async function changeFeed(env: BenchEnv, options: ChangeFeedBenchOptions = {}): Promise<LatencyGroup> {
  const started = Date.now();
  const o = { ...DEFAULTS, ...options };
  const url = await env.database("change_feed");
  const namespace = env.namespace("change-feed");
  const { prismaCache } = env.library;
  const sql = new pg.Client({ connectionString: url });
  await sql.connect();
  await sql.query("SET synchronous_commit = on");
  await sql.query(`INSERT INTO "Post" (title, views) SELECT 'post ' || g, 0 FROM generate_series(1, ${o.bulkRows}) AS g`);
  await sql.query(`ALTER TABLE "Post" REPLICA IDENTITY FULL`);
  const redis = new Redis(env.redisUrl);
  const appRedis = new Redis(env.redisUrl);
  const consumerBase = new PrismaClient({ adapter: new PrismaPg({ connectionString: url }) });
  const consumer = consumerBase.$extends(prismaCache({ redis, namespace, ttl: 600, changeFeed: { url } }));
  const appBase = new PrismaClient({ adapter: new PrismaPg({ connectionString: url }) });
  const app = appBase.$extends(prismaCache({ redis: appRedis, namespace, ttl: 600 }));
  const secondRedis = new Redis(env.redisUrl);
  const secondBase = new PrismaClient({ adapter: new PrismaPg({ connectionString: url }) });
  const makeSecond = () => secondBase.$extends(prismaCache({ redis: secondRedis, namespace, ttl: 600, changeFeed: { url } }));
  let second: ReturnType<typeof makeSecond> | undefined;
  let child: ChildProcess | undefined;
  const checks: Record<string, Check> = {};
  try {
    const feed = () => consumer.$cache.stats().feed!;
    const until = async (what: string, check: () => boolean, ms = 120_000) => {
      const end = Date.now() + ms;
      while (!check()) {
        if (Date.now() > end) throw new Error(`change-feed bench: timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 1));
      }
    };
    await until("the consumer", () => feed().status === "streaming");

    // The reader, in a process of its own.
    const script = fileURLToPath(new URL("../lib/feed-reader-child.ts", import.meta.url));
    const c = fork(script, [JSON.stringify({ indexUrl: env.library.indexUrl, databaseUrl: url, redisUrl: env.redisUrl, namespace })], {
      execArgv: ["--import", "tsx"],
    });
    child = c;
    const replies: Array<{ type: string; at?: number }> = [];
    c.on("message", (m: { type: string; at?: number }) => replies.push(m));
    const reply = async (type: string) => {
      await until(`the reader's ${type}`, () => replies.some((r) => r.type === type), 30_000);
      return replies.splice(
        replies.findIndex((r) => r.type === type),
        1,
      )[0]!;
    };
    await reply("ready");

    const outside = new Samples();
    const viaApp = new Samples();
    for (let i = 0; i < o.samples * 2; i++) {
      const id = 1 + (i % 100);
      const views = 10_000_000 + i;
      c.send({ type: "prime", id });
      await reply("primed");
      c.send({ type: "watch", id, views });
      const t0 = now();
      if (i % 2 === 0) await sql.query(`UPDATE "Post" SET views = $1 WHERE id = $2`, [views, id]);
      else await app.post.update({ where: { id }, data: { views } });
      const seen = (await reply("seen")).at!;
      (i % 2 === 0 ? outside : viaApp).add([Math.max(0, seen - t0) * 1e6]);
    }

    // Throughput: one transaction of many rows.
    const bulkBefore = feed().applied;
    const b0 = now();
    await sql.query(`UPDATE "Post" SET views = views + 1 WHERE id <= $1`, [o.bulkRows]);
    await until("the bulk update to be applied", () => feed().applied >= bulkBefore + o.bulkRows);
    const bulkRate = Math.round(o.bulkRows / ((now() - b0) / 1000));

    // Throughput: many one-row transactions from 8 connections, written while no consumer runs (the slot keeps them),
    // then applied by a consumer that starts: its rate, not the writers'.
    await consumer.$cache.close();
    const writers = await Promise.all(
      Array.from({ length: 8 }, async () => {
        const w = new pg.Client({ connectionString: url });
        await w.connect();
        return w;
      }),
    );
    const w0 = now();
    let next = 0;
    await Promise.all(
      writers.map(async (w) => {
        while (next < o.singles) {
          const k = next++;
          await w.query(`UPDATE "Post" SET views = views + 1 WHERE id = $1`, [1 + (k % o.bulkRows)]);
        }
      }),
    );
    const writeRate = Math.round(o.singles / ((now() - w0) / 1000));
    await Promise.all(writers.map((w) => w.end()));
    const s0 = now();
    second = makeSecond();
    const secondFeed = () => second!.$cache.stats().feed!;
    await until("the one-row updates to be applied", () => (secondFeed().applied ?? 0) >= o.singles);
    const singlesRate = Math.round(o.singles / ((now() - s0) / 1000));

    const out = outside.summary();
    const base = viaApp.summary();
    checks.lagSamples = {
      label: "lag samples: outside writes, app writes (each seen by the reader)",
      value: `${out.iterations}, ${base.iterations}`,
      ok: out.iterations === o.samples && base.iterations === o.samples,
    };
    checks.singles = {
      label: "one-row transactions: written per second by 8 connections, with no consumer running",
      value: `${writeRate.toLocaleString("en-US")}/s`,
    };
    const end = secondFeed();
    checks.status = {
      label: "second consumer's status at the end; restarts",
      value: `${end.status}; ${end.restarts}`,
      ok: end.status === "streaming" && end.restarts === 0,
    };
    return {
      kind: "latency",
      title: "Change feed (PostgreSQL): outside writes reach cached reads in another process",
      notes: [
        "One consumer (this process) and one reader (a child process), one local Redis and Postgres; the reader's reads hit L1 until a bump reaches it.",
        "Lag: from just before the write is sent to the reader's first read of the new value; outside writes are plain SQL with synchronous_commit = on; the baseline is the same update through a cached client.",
        `Throughput: changes applied per second by one consumer, for one ${o.bulkRows.toLocaleString("en-US")}-row transaction and for ${o.singles.toLocaleString("en-US")} one-row transactions from 8 connections.`,
      ],
      cases: {
        outside: { label: "outside write (psql-like) → read in another process sees it", ...out },
        app: { label: "app write through the cache → read in another process sees it (baseline)", ...base },
      },
      ratios: { lag: { label: "outside-write lag ÷ app-write lag (medians)", value: ratio(out.medianUs, base.medianUs) } },
      targets: {
        p99: { label: "outside-write lag, p99", value: out.p99Us, target: "≤ 100 ms", met: out.p99Us <= 100_000 },
        bulk: {
          label: `changes applied per second (one ${o.bulkRows.toLocaleString("en-US")}-row transaction)`,
          value: bulkRate,
          unit: "/s",
          target: "≥ 5,000",
          met: bulkRate >= 5_000,
        },
        singles: {
          label: `changes applied per second (${o.singles.toLocaleString("en-US")} one-row transactions)`,
          value: singlesRate,
          unit: "/s",
          target: "≥ 5,000",
          met: singlesRate >= 5_000,
        },
      },
      checks,
      seconds: Math.round((Date.now() - started) / 100) / 10,
    };
  } finally {
    child?.send({ type: "exit" });
    await consumer.$disconnect();
    await app.$disconnect();
    await (second ?? secondBase).$disconnect();
    secondRedis.disconnect();
    redis.disconnect();
    appRedis.disconnect();
    await sql.query("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name LIKE 'ptc_%' AND NOT active").catch(() => undefined);
    await sql.end();
  }
}
