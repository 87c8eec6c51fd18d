/**
 * The bump script (tiers/versions.ts) on a real Redis: each op's effect on a
 * counter's number and write marks, a release carried with the next mark,
 * and counters past 1e14 (from earlier versions) written with every digit;
 * the fill and read of an entry that records more counters than one MGET
 * slice holds, and how often a fill renews them.
 */
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { connectionOf } from "../../src/redis/detect";
import { FILL_RECORDED, READ_RECORDED, RENEW_EVERY } from "../../src/tiers/entry";
import { BUMP, BumpOp, MARK_BUCKETS, SEQUENCE_DEP } from "../../src/tiers/versions";
import { redisUrl, uniqueNamespace } from "../support/db";

// The suite's Redis (this file is not in the cluster project: the keys of one call lie in different slots).
const redis = new Redis(redisUrl());
const connection = connectionOf(redis);
afterAll(() => redis.disconnect());

const TTL = 60_000;
const WINDOW = 10_000;
/** Runs BUMP over `keys` with one op each; returns the new values. */
const bump = async (keys: string[], ops: string, base = "1000") => (await connection.script(BUMP, keys, [keys.length, base, TTL, ops, WINDOW])) as string[];
const parts = (v: string) => v.split("~").map(Number);

describe("the bump script", () => {
  it("bumps each counter by one, with or without marks, and keeps the counter's ttl", async () => {
    const ns = uniqueNamespace();
    const [a, b] = [`${ns}:a`, `${ns}:b`];
    expect(await bump([a, b], BumpOp.bumpOnly.repeat(2))).toEqual(["1001", "1001"]);
    const [marked] = await bump([a], BumpOp.mark);
    const [n, c, until] = parts(marked!);
    expect([n, c]).toEqual([1002, 1]);
    expect(until! - Date.now()).toBeGreaterThan(WINDOW - 2_000);
    // A second write marks it too; one release leaves one mark, the other none.
    expect(parts((await bump([a], BumpOp.mark))[0]!).slice(0, 2)).toEqual([1003, 2]);
    expect(parts((await bump([a], BumpOp.release))[0]!).slice(0, 2)).toEqual([1004, 1]);
    expect(await bump([a], BumpOp.release)).toEqual(["1005"]);
    // A release of a counter without marks is a bump alone.
    expect(await bump([b], BumpOp.release)).toEqual(["1002"]);
    expect(await redis.pttl(a)).toBeGreaterThan(TTL - 5_000);
  });

  it("releases one write's mark and sets the next one's in one step, and a key given twice takes both", async () => {
    const ns = uniqueNamespace();
    const k = `${ns}:k`;
    await bump([k], BumpOp.mark);
    const [both] = await bump([k], BumpOp.releaseAndMark);
    expect(parts(both!).slice(0, 2)).toEqual([1002, 1]);
    // Two writes released in one command: the key twice.
    await bump([k], BumpOp.mark);
    expect(await bump([k, k], BumpOp.release.repeat(2))).toEqual([expect.stringMatching(/^1004~1~/), "1005"]);
  });

  it("starts an absent counter from the base given, and writes counters past 1e14 with every digit", async () => {
    const ns = uniqueNamespace();
    const [fresh, old] = [`${ns}:fresh`, `${ns}:old`];
    expect(await bump([fresh], BumpOp.bumpOnly, "99999999999998")).toEqual(["99999999999999"]);
    expect(await bump([fresh], BumpOp.bumpOnly)).toEqual(["100000000000000"]);
    await redis.set(old, "140737488355327", "PX", TTL);
    expect(parts((await bump([old], BumpOp.mark))[0]!).slice(0, 2)).toEqual([140737488355328, 1]);
    expect((await bump([old], BumpOp.release))[0]).toBe("140737488355329");
  });
});

describe("bump marks: a fill that finds a recorded counter absent", () => {
  /** The bucket of a dependency id, as `model_mark` hashes it (versions.ts). */
  const bucketOf = (dep: string) => {
    let h = 0;
    for (const c of Buffer.from(dep)) h = (h * 31 + c) % MARK_BUCKETS;
    return h;
  };
  const seqBump = (ns: string, deps: string[]) =>
    connection.script(
      BUMP,
      [...deps.map((d) => `${ns}:v:${d}`), `${ns}:v:${SEQUENCE_DEP}`],
      [deps.length, "1000", TTL, BumpOp.bumpOnly.repeat(deps.length), WINDOW, "", "", "1"],
    );
  /** FILL_RECORDED of an entry recording `dep`, whose read took the sequence at `seen`: 1 stored, 0 refused. */
  const fill = async (ns: string, dep: string, seen: string) =>
    (await connection.script(
      FILL_RECORDED,
      [`${ns}:lock:e`, `${ns}:e:e`, `${ns}:v:${SEQUENCE_DEP}`, `${ns}:v:${dep}`],
      ["", "channel", "e", TTL, "ptc2|0|0|0|", "body", "5", 1, TTL, 0, "1", seen],
    )) as number;

  it("is refused when a counter of its model and bucket was bumped since the read (then evicted), and stored otherwise", async () => {
    const ns = uniqueNamespace();
    await seqBump(ns, ["r:Post:[#1]"]);
    const seen = (await redis.get(`${ns}:v:${SEQUENCE_DEP}`))!;
    // While the query runs: a write bumps Post 2, and Redis evicts its counter.
    await seqBump(ns, ["r:Post:[#2]"]);
    expect(await redis.get(`${ns}:v:@Post:${bucketOf("r:Post:[#2]")}`)).toBe(await redis.get(`${ns}:v:${SEQUENCE_DEP}`));
    await redis.del(`${ns}:v:r:Post:[#2]`);
    expect(await fill(ns, "r:Post:[#2]", seen)).toBe(0);
    // A Post in another bucket, never bumped: no write to it can have been lost.
    let other = 3;
    while (bucketOf(`r:Post:[#${other}]`) === bucketOf("r:Post:[#2]")) other++;
    expect(await fill(ns, `r:Post:[#${other}]`, seen)).toBe(1);
    // Writes to another model leave Post's marks as they were.
    const seenAgain = (await redis.get(`${ns}:v:${SEQUENCE_DEP}`))!;
    await seqBump(ns, ["r:Comment:[#9]"]);
    expect(await fill(ns, `r:Post:[#${other + 1000}]`, seenAgain)).toBe(1);
  });
});

describe("an entry that records many counters", () => {
  const DEPS = 1_234; // more than two of the scripts' MGET slices (500 keys each)
  /** Counters of `ns`, each at its own value, and the entry that records them all (stored by FILL_RECORDED). */
  const recordAll = async (ns: string) => {
    const keys = Array.from({ length: DEPS }, (_, i) => `${ns}:v:r:Post:[#${i}]`);
    await redis.mset(keys.flatMap((k, i) => [k, String(1_000_000 + i)]));
    for (const k of keys) await redis.pexpire(k, TTL);
    const stored = await connection.script(
      FILL_RECORDED,
      [`${ns}:lock:e`, `${ns}:e:e`, ...keys],
      ["", "channel", "e", TTL, `ptc2|${Date.now() + TTL}|${Date.now() + TTL}|0|`, "body", "5", 0, TTL, 0, "0"],
    );
    return { keys, stored };
  };
  /** READ_RECORDED of that entry: whether it came back as current. */
  const current = async (ns: string) => ((await connection.script(READ_RECORDED, [`${ns}:e:e`], [0, Date.now()])) as unknown[])[0] !== null;

  it("is stored with every counter's version, served while none moved, and not once the last one moved", async () => {
    const ns = uniqueNamespace();
    const { keys, stored } = await recordAll(ns);
    expect(stored).toBe(1);
    const raw = (await redis.get(`${ns}:e:e`))!;
    expect(raw.endsWith("body")).toBe(true);
    expect(raw.split("\n").length).toBe(2 * DEPS + 1);
    expect(raw).toContain(`${keys[DEPS - 1]}\n${1_000_000 + DEPS - 1}\n`);
    expect(await current(ns)).toBe(true);
    await redis.incr(keys[DEPS - 1]!);
    expect(await current(ns)).toBe(false);
  });

  it("is refused when a counter past the first slice moved since the read", async () => {
    const ns = uniqueNamespace();
    const keys = Array.from({ length: DEPS }, (_, i) => `${ns}:v:r:Post:[#${i}]`);
    await redis.mset(keys.flatMap((k) => [k, "1000"]));
    // A write marks counter 1,100 (its version carries a mark in force): the fill must not record it.
    await connection.script(BUMP, [keys[1_100]!], [1, "1000", TTL, BumpOp.mark, WINDOW]);
    const stored = await connection.script(
      FILL_RECORDED,
      [`${ns}:lock:e`, `${ns}:e:e`, ...keys],
      ["", "channel", "e", TTL, "ptc2|0|0|0|", "body", "5", 0, TTL, 0, "0"],
    );
    expect(stored).toBe(0);
    expect(await redis.exists(`${ns}:e:e`)).toBe(0);
  });

  it("renews the counters it records in one fill of RENEW_EVERY, and never shortens them", async () => {
    const ns = uniqueNamespace();
    const { keys } = await recordAll(ns);
    const short = keys.slice(0, 3);
    // Fills at many instants: one whose Redis time is a multiple of RENEW_EVERY ms renews every counter to TTL.
    // The others leave each counter's ttl as it was: both kinds must be seen.
    let renewed = 0;
    let left = 0;
    for (let i = 0; i < 40 * RENEW_EVERY && (renewed === 0 || left === 0); i++) {
      for (const k of short) await redis.pexpire(k, 5_000);
      await connection.script(FILL_RECORDED, [`${ns}:lock:f`, `${ns}:e:f`, ...short], ["", "channel", "f", TTL, "ptc2|0|0|0|", "body", "5", 0, TTL, 0, "0"]);
      const ttls = await Promise.all(short.map((k) => redis.pttl(k)));
      for (const t of ttls) expect(t).toBeGreaterThan(0);
      if (ttls.every((t) => t > 5_000)) renewed++;
      else if (ttls.every((t) => t <= 5_000)) left++;
      else throw new Error(`a fill renewed some of its counters only: ${ttls.join(", ")}`);
    }
    expect(renewed).toBeGreaterThan(0);
    expect(left).toBeGreaterThan(0);
  });
});
