/**
 * Nothing is lost when the change feed's consumer dies. Its process is
 * killed (SIGKILL) between reading a change and applying it, and between
 * applying it (Redis has the bump) and acknowledging it; the consumer that
 * takes over replays from the last acknowledged position. Then 10,000
 * outside writes run while the consumer is killed and restarted three
 * times, and every cached read afterwards equals the database.
 */
import { type ChildProcess, fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { redisUrl, uniqueNamespace } from "../support/db";
import { useSeededDatabase } from "../support/harness";
import { until } from "../support/until";

const t = useSeededDatabase();
const LEASE = 500;
/** How long a child process may take to start and report (tsx compiles it; the suite shares two cores). */
const CHILD_MS = 30_000;
const children = new Set<ChildProcess>();
const slots: string[] = [];
let sql: pg.Client;

const slotOf = (namespace: string) => `ptc_${namespace.toLowerCase().replace(/[^a-z0-9_]/g, "_")}`.slice(0, 63);

beforeAll(async () => {
  sql = new pg.Client({ connectionString: t.url() });
  await sql.connect();
});

afterAll(async () => {
  for (const c of children) c.kill("SIGKILL");
  await Promise.all([...children].map((c) => new Promise((r) => (c.exitCode !== null || c.signalCode !== null ? r(undefined) : c.once("exit", r)))));
  // A killed consumer's walsender ends with its connection; the slot is then inactive and dropped.
  for (const s of slots) {
    for (let i = 0; i < 100; i++) {
      const r = await sql.query("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active", [s]);
      const left = await sql.query("SELECT 1 FROM pg_replication_slots WHERE slot_name = $1", [s]);
      if (r.rowCount !== null && left.rowCount === 0) break;
      await new Promise((res) => setTimeout(res, 50));
    }
  }
  await sql.end();
});

/** A consumer process, and what it last reported. */
class Consumer {
  status = "";
  applied = 0;
  paused = false;
  readonly proc: ChildProcess;

  constructor(namespace: string, pause?: { at: "received" | "bumped"; on: string }) {
    const script = fileURLToPath(new URL("../support/feed-child.ts", import.meta.url));
    const config = { databaseUrl: t.url(), redisUrl: redisUrl(), namespace, lease: LEASE, pauseAt: pause?.at, pauseOn: pause?.on };
    this.proc = fork(script, [JSON.stringify(config)], { execArgv: ["--import", "tsx"], stdio: ["ignore", "inherit", "inherit", "ipc"] });
    children.add(this.proc);
    this.proc.on("message", (m: { type: string; status?: string; applied?: number }) => {
      if (m.type === "paused") this.paused = true;
      if (m.type === "status") {
        this.status = m.status ?? "";
        this.applied = m.applied ?? 0;
      }
    });
  }

  /** Kills the process at once (no close, no lease given up), and waits for it to exit. */
  async kill(): Promise<void> {
    const exited = new Promise((r) => this.proc.once("exit", r));
    this.proc.kill("SIGKILL");
    await exited;
  }
}

/** The slot's confirmed position, as a number. */
async function confirmed(slot: string): Promise<bigint> {
  const r = await sql.query<{ lsn: string | null }>("SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = $1", [slot]);
  return lsnValue(r.rows[0]?.lsn ?? "0/0");
}

async function currentLsn(): Promise<bigint> {
  const r = await sql.query<{ lsn: string }>("SELECT pg_current_wal_insert_lsn()::text AS lsn");
  return lsnValue(r.rows[0]!.lsn);
}

function lsnValue(lsn: string): bigint {
  const [hi, lo] = lsn.split("/");
  return (BigInt(`0x${hi}`) << 32n) | BigInt(`0x${lo}`);
}

describe("change feed: a killed consumer loses nothing", () => {
  for (const at of ["received", "bumped"] as const) {
    it(`killed between ${at === "received" ? "reading a change and applying it" : "applying a change and acknowledging it"}: the next consumer replays it`, async () => {
      const namespace = uniqueNamespace();
      slots.push(slotOf(namespace));
      const reader = t.cached({ redis: t.redis() }, namespace);
      const id = t.ids.posts.draft;
      const title = `killed ${at} ${Date.now()}`;
      // The slot exists before the first consumer: it does not start afresh (which would make everything stale).
      await sql.query("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", [slotOf(namespace)]);
      await reader.prisma.post.findUnique({ where: { id } });
      const first = new Consumer(namespace, { at, on: `r:Post:[#${id}]` });
      await until("the first consumer", () => first.status === "streaming", CHILD_MS);
      await sql.query(`UPDATE "Post" SET title = $1 WHERE id = $2`, [title, id]);
      const commit = await currentLsn();
      await until("the pause", () => first.paused, CHILD_MS);
      await first.kill();
      // Nothing was acknowledged past the change.
      expect(await confirmed(slotOf(namespace))).toBeLessThan(commit);
      if (at === "received") expect((await reader.prisma.post.findUnique({ where: { id } }))?.title).not.toBe(title);
      const second = new Consumer(namespace);
      await until("the second consumer to take over and apply the change", () => second.status === "streaming" && second.applied > 0, CHILD_MS);
      expect(await confirmed(slotOf(namespace))).toBeGreaterThanOrEqual(commit);
      await until("the change in the reader", async () => (await reader.prisma.post.findUnique({ where: { id } }))?.title === title);
      await second.kill();
    });
  }

  it("10,000 outside writes while the consumer is killed and restarted 3 times: every cached read equals the database", async () => {
    const namespace = uniqueNamespace();
    slots.push(slotOf(namespace));
    const ROWS = 100;
    const WRITES = 10_000;
    const created = await t
      .plain()
      .prisma.post.createManyAndReturn({ data: Array.from({ length: ROWS }, (_, i) => ({ title: `row ${i}`, views: 0 })), select: { id: true } });
    const ids = created.map((r) => r.id);
    const reader = t.cached({ redis: t.redis() }, namespace);
    let consumer = new Consumer(namespace);
    await until("the first consumer", () => consumer.status === "streaming", CHILD_MS);
    // Reads fill and refill the cache all along, racing the writes and the restarts.
    let reading = true;
    const reads = (async () => {
      for (let i = 0; reading; i++) await reader.prisma.post.findUnique({ where: { id: ids[i % ROWS]! } });
    })();
    // Four writers, each on its own rows (so the last value of each row is known); the consumer is killed after each quarter.
    const WRITERS = 4;
    const writers = await Promise.all(
      Array.from({ length: WRITERS }, async () => {
        const c = new pg.Client({ connectionString: t.url() });
        await c.connect();
        return c;
      }),
    );
    const QUARTER = WRITES / 4 / WRITERS;
    for (let q = 0; q < 4; q++) {
      await Promise.all(
        writers.map(async (c, k) => {
          for (let i = 0; i < QUARTER; i++) {
            const w = q * QUARTER + i + 1;
            await c.query(`UPDATE "Post" SET views = $1 WHERE id = $2`, [w, ids[(w * WRITERS + k) % ROWS]]);
          }
        }),
      );
      if (q < 3) {
        await consumer.kill();
        consumer = new Consumer(namespace);
      }
    }
    await Promise.all(writers.map((c) => c.end()));
    reading = false;
    await reads;
    const end = await currentLsn();
    await until("the last consumer to acknowledge every write", async () => (await confirmed(slotOf(namespace))) >= end, 60_000);
    const truth = new Map(
      (await sql.query<{ id: number; views: number }>(`SELECT id, views FROM "Post" WHERE id = ANY($1)`, [ids])).rows.map((r) => [r.id, r.views]),
    );
    const stale: string[] = [];
    // The bus may still be delivering the last bumps to the reader's L1: a later bump of another process, once the
    // reader has it, says it has every earlier one (one channel, in order).
    const writer = t.cached({ redis: t.redis() }, namespace);
    await writer.prisma.tag.create({ data: { name: `after ${Date.now()}` } });
    const last = writer.prisma.$cache.lastPublished();
    if (last) await reader.prisma.$cache.delivered(last, { timeoutMs: 10_000 });
    for (const id of ids) {
      const cached = await reader.prisma.post.findUnique({ where: { id } });
      if (cached?.views !== truth.get(id)) stale.push(`${id}: cached ${cached?.views}, database ${truth.get(id)}`);
    }
    expect(stale).toEqual([]);
    await consumer.kill();
  }, 180_000);
});
