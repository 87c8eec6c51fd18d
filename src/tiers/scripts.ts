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
 * absent counters, ARGV[5] ms a counter lives (renewed here), ARGV[6..]
 * versions seen before the query ("" = absent).
 * Stores the entry with the versions it was computed from, or returns 0 if
 * any counter moved since the snapshot.
 */
export const FILL = script(`
local vers = {}
for i = 2, #KEYS do
  local want = ARGV[i + 4]
  local cur = redis.call('GET', KEYS[i])
  if want == '' then
    if cur then return 0 end
    redis.call('SET', KEYS[i], ARGV[4], 'PX', ARGV[5])
    cur = ARGV[4]
  elseif cur ~= want then
    return 0
  else
    redis.call('PEXPIRE', KEYS[i], ARGV[5])
  end
  vers[#vers + 1] = cur
end
redis.call('SET', KEYS[1], ARGV[2] .. table.concat(vers, ',') .. '|' .. ARGV[3], 'PX', ARGV[1])
return 1
`);

/**
 * Bumps the first ARGV[1] version counters in KEYS and reads the rest, in one
 * step. An absent counter starts from ARGV[2], a random value far from any a
 * previous counter of that name could have recorded; every bumped counter
 * lives ARGV[3] ms more. Returns every value, as strings, in KEYS order
 * ("" = absent).
 */
export const BUMP = script(`
local n = tonumber(ARGV[1])
local out = {}
for i = 1, #KEYS do
  if i <= n then
    if redis.call('EXISTS', KEYS[i]) == 0 then redis.call('SET', KEYS[i], ARGV[2]) end
    out[i] = tostring(redis.call('INCR', KEYS[i]))
    redis.call('PEXPIRE', KEYS[i], ARGV[3])
  else
    out[i] = redis.call('GET', KEYS[i]) or ''
  end
end
return out
`);

/**
 * Creates the version counters in KEYS that do not exist yet, at ARGV[1],
 * living ARGV[2] ms; returns every counter's value. Run when a read finds
 * counters missing, so that concurrent fills agree on the versions.
 */
export const INIT_VERSIONS = script(`
local out = {}
for i = 1, #KEYS do
  redis.call('SET', KEYS[i], ARGV[1], 'NX', 'PX', ARGV[2])
  out[i] = redis.call('GET', KEYS[i])
end
return out
`);

/**
 * Sends one Redis command; a synchronous throw (ioredis does that in some
 * states, e.g. offline queue disabled while disconnected) becomes a rejection.
 */
export function send<T>(command: () => Promise<T>): Promise<T> {
  try {
    return command();
  } catch (err) {
    return Promise.reject(err);
  }
}

/** Runs a script by SHA, loading it first if Redis does not know it yet. */
export async function runScript(redis: RedisClient, s: Script, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
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

/**
 * Read of an entry whose dependencies are recorded in it (`ptc2`): the ids
 * of rows found by the query are only known after it ran.
 * KEYS[1] entry, KEYS[2..] the versions to snapshot for a later fill.
 * Returns { entry or false, snapshot versions... }; the entry only if every
 * recorded version is still current.
 */
export const READ_RECORDED = script(`
local out = {false}
for i = 2, #KEYS do out[i] = redis.call('GET', KEYS[i]) or '' end
local raw = redis.call('GET', KEYS[1])
if not raw or string.sub(raw, 1, 5) ~= 'ptc2|' then return out end
-- ptc2|fresh|stale|delta|len|<header><body>: skip to the 5th separator
local p = 5
for _ = 1, 3 do
  p = string.find(raw, '|', p + 1, true)
  if not p then return out end
end
local q = string.find(raw, '|', p + 1, true)
if not q then return out end
local len = tonumber(string.sub(raw, p + 1, q - 1))
if not len then return out end
local header = string.sub(raw, q + 1, q + len)
local key = nil
for line in string.gmatch(header, '([^\\n]*)\\n') do
  if key == nil then
    key = line
  else
    if (redis.call('GET', key) or '') ~= line then return out end
    key = nil
  end
end
out[1] = raw
return out
`);

/**
 * Compare-and-set fill of an entry that records its dependencies (`ptc2`).
 * KEYS[1] entry, KEYS[2..1+n] versions snapshotted before the query (n = ARGV[5]),
 * KEYS[2+n..] dependencies to record.
 * ARGV[1] px, ARGV[2] header prefix (`ptc2|fresh|stale|delta|`), ARGV[3] body,
 * ARGV[4] initial value for absent counters, ARGV[5] n, ARGV[6] ms a counter
 * lives (renewed here), ARGV[7..] snapshot versions ("" = absent).
 */
export const FILL_RECORDED = script(`
local n = tonumber(ARGV[5])
local ttl = ARGV[6]
for i = 1, n do
  local cur = redis.call('GET', KEYS[i + 1])
  local want = ARGV[i + 6]
  if want == '' then
    if cur then return 0 end
  elseif cur ~= want then
    return 0
  end
end
local lines = {}
for i = n + 2, #KEYS do
  local cur = redis.call('GET', KEYS[i])
  if not cur then
    redis.call('SET', KEYS[i], ARGV[4], 'PX', ttl)
    cur = ARGV[4]
  else
    redis.call('PEXPIRE', KEYS[i], ttl)
  end
  lines[#lines + 1] = KEYS[i] .. '\\n' .. cur .. '\\n'
end
local header = table.concat(lines)
redis.call('SET', KEYS[1], ARGV[2] .. #header .. '|' .. header .. ARGV[3], 'PX', ARGV[1])
return 1
`);
