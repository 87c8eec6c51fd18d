/**
 * Redis helpers for benchmark setup and verification (never for timed code).
 * @module
 */
import type { Redis } from "ioredis";

/** Number of distinct keys matching `pattern`, by SCAN (never KEYS; SCAN may repeat a key, so they are deduplicated). */
export async function countKeys(redis: Redis, pattern: string): Promise<number> {
  const seen = new Set<string>();
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", pattern, "COUNT", 5000);
    for (const k of keys) seen.add(k);
    cursor = next;
  } while (cursor !== "0");
  return seen.size;
}
