/**
 * Counting reads for warm starts (src/engine/hot.ts, HotReads), with an
 * in-process fake of the sorted set: samples taken while the event loop
 * cannot turn (a loop of L1 hits) are counted, each read's adding up; and
 * at most 256 distinct reads wait for a batch.
 */
import { describe, expect, it } from "vitest";
import { HotReads } from "../../src/engine/hot.js";
import type { ReadPlan } from "../../src/engine/request.js";
import type { HotSet } from "../../src/tiers/hot.js";

/** The set's calls: each batch of members and the count added to each. */
function fakeSet() {
  const batches: Array<Map<string, number>> = [];
  const set = { connected: true, add: async (members: ReadonlyMap<string, number>) => void batches.push(new Map(members)), top: async () => [] };
  return { set: set as unknown as HotSet, batches };
}

/** A bare client's read of User `id` (its L1 key is the read alone). */
const plan = (id: number) =>
  ({ model: "User", operation: "findUnique", args: { where: { id } }, l1Key: `User|findUnique|{"where":{"id":${id}}}` }) as unknown as ReadPlan;

const turn = () => new Promise((r) => setImmediate(r));

describe("warm start read counts", () => {
  it("counts every sample of a read taken before a batch can go, not the first 256 only", async () => {
    const { set, batches } = fakeSet();
    const hot = new HotReads({ set, sampleEvery: 1 });
    // 3,000 reads of 3 rows without a turn of the event loop, as a loop of L1 hits makes them.
    for (let i = 0; i < 3_000; i++) hot.sample(plan(i % 3), undefined);
    await turn();
    await turn();
    expect(batches).toHaveLength(1);
    expect([...batches[0]!.values()].sort()).toEqual([1_000, 1_000, 1_000]);
  });

  it("adds sampleEvery per sample, and holds at most 256 distinct reads until a batch has gone", async () => {
    const { set, batches } = fakeSet();
    const hot = new HotReads({ set, sampleEvery: 1 });
    for (let id = 0; id < 300; id++) hot.sample(plan(id), undefined);
    hot.sample(plan(0), undefined);
    await turn();
    await turn();
    const first = batches[0]!;
    expect(first.size).toBe(256);
    expect(Math.max(...first.values())).toBe(2);
    // Past the batch, a read dropped before is counted again.
    hot.sample(plan(299), undefined);
    await turn();
    await turn();
    expect(batches).toHaveLength(2);
    expect([...batches[1]!.values()]).toEqual([1]);
    hot.close();
  });
});
