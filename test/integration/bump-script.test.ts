/**
 * The bump script (tiers/versions.ts) on a real Redis: each op's effect on a
 * counter's number and write marks, a release carried with the next mark,
 * and counters past 1e14 (from earlier versions) written with every digit.
 */
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { connectionOf } from "../../src/redis/detect";
import { FILL_RECORDED } from "../../src/tiers/entry";
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
