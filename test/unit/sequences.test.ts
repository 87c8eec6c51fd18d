/** Gap detection on the bus (coherence/sequences.ts): what each arrival order means. */
import { describe, expect, it } from "vitest";
import { SenderSequences } from "../../src/coherence/sequences";

describe("SenderSequences", () => {
  it.each([
    ["in order", [1, 2, 3], [false, false, false], 3],
    ["a first message with any number starts the sender", [7, 8], [false, false], 8],
    ["a number skipped is a gap", [1, 2, 4], [false, false, true], 4],
    ["after a gap, the next number follows the new last", [1, 3, 4], [false, true, false], 4],
    ["a late or repeated number is no gap, and the highest stays", [1, 2, 3, 2, 3], [false, false, false, false, false], 3],
    ["1 after higher numbers: the sender restarted, a gap", [4, 5, 1], [false, false, true], 5],
  ] as const)("%s", (_label, seqs, gaps, max) => {
    const s = new SenderSequences();
    expect(seqs.map((n) => s.heard("a", n).gap)).toEqual(gaps);
    expect(s.maxOf("a")).toBe(max);
  });

  it("keeps senders apart, and knows nothing of an unheard one", () => {
    const s = new SenderSequences();
    s.heard("a", 1);
    expect(s.heard("b", 5).gap).toBe(false);
    expect(s.heard("a", 2).gap).toBe(false);
    expect([s.maxOf("a"), s.maxOf("b"), s.maxOf("c")]).toEqual([2, 5, 0]);
  });

  it("after restart() (the subscription came back), any next number is accepted without a gap", () => {
    const s = new SenderSequences();
    s.heard("a", 1);
    s.restart();
    expect(s.heard("a", 9).gap).toBe(false);
    expect(s.heard("a", 11).gap).toBe(true);
  });

  it("forgets the least recently heard sender past its bound", () => {
    const s = new SenderSequences(2);
    s.heard("a", 1);
    s.heard("b", 1);
    s.heard("a", 2); // a is now the most recent
    s.heard("c", 1); // b goes
    expect([s.maxOf("a"), s.maxOf("b"), s.maxOf("c")]).toEqual([2, 0, 1]);
  });
});
