/**
 * Lua scripts run in Redis, and a runner that uses EVALSHA and loads the
 * script once on NOSCRIPT.
 * @module
 */
import { createHash } from "node:crypto";
import type { RedisClient } from "../config.js";

/** A Lua script with its SHA1, ready for EVALSHA. */
export interface Script {
  readonly source: string;
  readonly sha: string;
}

function script(source: string): Script {
  return { source, sha: createHash("sha1").update(source).digest("hex") };
}

/**
 * Compare-and-set fill.
 * KEYS[1] entry, KEYS[2..] version counters.
 * ARGV[1] px, ARGV[2] header prefix, ARGV[3] body, ARGV[4] initial value for
 * absent counters, ARGV[5..] versions seen before the query ("" = absent).
 * Stores the entry with the versions it was computed from, or returns 0 if
 * any counter moved since the snapshot.
 */
export const FILL = script(`
local vers = {}
for i = 2, #KEYS do
  local cur = redis.call('GET', KEYS[i])
  local want = ARGV[i + 3]
  if want == '' then
    if cur then return 0 end
    redis.call('SET', KEYS[i], ARGV[4])
    cur = ARGV[4]
  elseif cur ~= want then
    return 0
  end
  vers[#vers + 1] = cur
end
redis.call('SET', KEYS[1], ARGV[2] .. table.concat(vers, ',') .. '|' .. ARGV[3], 'PX', ARGV[1])
return 1
`);

/** Bumps every version counter in KEYS. Returns their new values. */
export const BUMP = script(`
local out = {}
for i = 1, #KEYS do out[i] = redis.call('INCR', KEYS[i]) end
return out
`);

/** Runs a script by SHA, loading it first if Redis does not know it yet. */
export async function runScript(
  redis: RedisClient,
  s: Script,
  keys: readonly string[],
  args: readonly (string | number)[],
): Promise<unknown> {
  try {
    return await redis.evalsha(s.sha, keys.length, ...keys, ...args);
  } catch (err) {
    if (!(err instanceof Error) || !err.message.includes("NOSCRIPT")) throw err;
    return redis.eval(s.source, keys.length, ...keys, ...args);
  }
}

/**
 * Releases a dogpile lease: compare-and-delete, then a wake-up for waiters.
 * KEYS[1] lease key. ARGV[1] the holder's token, ARGV[2] wake-up channel,
 * ARGV[3] wake-up message (the lease's key as callers name it).
 * Deletes the key and publishes only when it still holds the token, so a
 * holder whose lease expired (and was taken by someone else) changes nothing.
 * Returns 1 when released, 0 otherwise.
 */
export const RELEASE_LEASE = script(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('PUBLISH', ARGV[2], ARGV[3])
  return 1
end
return 0
`);
