/**
 * Version counters in Redis: their value format and the scripts that move
 * them. A counter's value is a number, or, while writes to what it stands
 * for are in flight, `<number>~<writes>~<until>`: how many writes marked it
 * and until when (Redis time, epoch ms) the marks hold. A fill refuses
 * counters that carry a mark in force (`writing` in {@link VERSION_LUA}),
 * so that a write can bump in Redis at the same time as it runs in the
 * database, and release its mark after the commit without waiting for it.
 * @module
 */
import { script } from "./commands.js";

/**
 * Lua: the counter format, in one place. `parse_version(v)` gives the number,
 * the marks and their deadline of counter value `v` (nil, 0, 0 for a value
 * that is not a counter); `now_ms()` is Redis time in ms; `writing(v)` says
 * whether `v` carries a write mark in force. Interpolated into the bump
 * script below and the fill scripts (entry.ts).
 */
export const VERSION_LUA = `
local function parse_version(v)
  local a = string.find(v, '~', 1, true)
  if not a then return tonumber(v), 0, 0 end
  local b = string.find(v, '~', a + 1, true)
  if not b then return tonumber(string.sub(v, 1, a - 1)), 0, 0 end
  return tonumber(string.sub(v, 1, a - 1)), tonumber(string.sub(v, a + 1, b - 1)) or 0, tonumber(string.sub(v, b + 1)) or 0
end
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function writing(v)
  if not string.find(v, '~', 1, true) then return false end
  local _, c, d = parse_version(v)
  return c > 0 and d > now_ms()
end`;

/** How a bump treats write marks (see the module comment). */
export type BumpMode =
  /** A plain bump: marks stay as they are. */
  | ""
  /** A write starts: each counter gets one more mark, in force for the window given. */
  | "mark"
  /** A write committed: each counter loses one mark. */
  | "release";

/**
 * Bumps the first ARGV[1] version counters in KEYS and reads the rest, in one
 * step. An absent counter starts from ARGV[2], a random value far from any a
 * previous counter of that name could have recorded; every bumped counter
 * lives ARGV[3] ms more. The first ARGV[6] of the bumped counters are
 * released (one mark fewer: earlier writes that committed, carried by this
 * command); the others are bumped in {@link BumpMode} ARGV[4], and ARGV[5]
 * is the milliseconds a "mark" holds. A key may appear twice. Returns every
 * value, as strings, in KEYS order ("" = absent). With ARGV[7] and ARGV[8],
 * it then publishes message ARGV[8] on channel ARGV[7] (the bus), so that a
 * write sends one command; one more element says how that went: 1, or
 * Redis's error when it refused PUBLISH (the bumps stand either way).
 */
export const BUMP = script(`
${VERSION_LUA}
local n = tonumber(ARGV[1])
local released = tonumber(ARGV[6]) or 0
local now = 0
if ARGV[4] ~= '' then now = now_ms() end
local out = {}
for i = 1, #KEYS do
  local cur = redis.call('GET', KEYS[i])
  local mode = ARGV[4]
  if i <= released then mode = 'release' end
  if i <= n then
    local v, c, d = nil, 0, 0
    if cur then v, c, d = parse_version(cur) end
    v = (v or tonumber(ARGV[2])) + 1
    if mode == 'mark' then
      if d <= now then c = 0 end
      c = c + 1
      d = math.max(d, now + tonumber(ARGV[5]))
    elseif mode == 'release' and c > 0 then
      c = c - 1
    end
    local s = string.format('%.0f', v)
    if c > 0 then s = s .. '~' .. string.format('%.0f', c) .. '~' .. string.format('%.0f', d) end
    redis.call('SET', KEYS[i], s, 'PX', ARGV[3])
    out[i] = s
  else
    out[i] = cur or ''
  end
end
if ARGV[7] then
  local sent = redis.pcall('PUBLISH', ARGV[7], ARGV[8])
  if type(sent) == 'table' and sent.err then out[#KEYS + 1] = sent.err else out[#KEYS + 1] = 1 end
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
