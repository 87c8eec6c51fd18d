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
 * The dependency id of a namespace's bump sequence (one Redis only): not a
 * dependency of any entry, but read with a miss's snapshot and moved by
 * every bump (see {@link BUMP}).
 */
export const SEQUENCE_DEP = "#seq";

/** How many bump marks each model has (`model_mark` in {@link VERSION_LUA}). */
export const MARK_BUCKETS = 256;

/**
 * Lua: the counter format, in one place. `parse_version(v)` gives the number,
 * the marks and their deadline of counter value `v` (nil, 0, 0 for a value
 * that is not a counter); `now_ms()` is Redis time in ms; `writing(v)` says
 * whether `v` carries a write mark in force. `model_mark(seq_key, key)` is
 * the key of the bump mark of counter `key` (`<prefix>:v:@<Model>:<bucket>`:
 * the model or join table its dependency id names, and one of
 * {@link MARK_BUCKETS} buckets by a hash of the id): with a bump sequence,
 * every bump sets it to the sequence's value, so that a fill that finds a
 * counter absent can tell whether a counter of its bucket was bumped (and
 * then evicted) since its read took the sequence. Interpolated into the bump
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
end
local function model_mark(seq_key, key)
  local base = string.sub(seq_key, 1, -${SEQUENCE_DEP.length + 1})
  local dep = string.sub(key, #base + 1)
  local model = string.match(dep, '^[^:]+:([^:.]+)')
  if not model then return nil end
  local h = 0
  for i = 1, #dep do h = (h * 31 + string.byte(dep, i)) % ${MARK_BUCKETS} end
  return base .. '@' .. model .. ':' .. h
end`;

/**
 * What a bump does to one counter's write marks (see the module comment), a
 * character per bumped counter in the bump script's ARGV[4].
 */
export const BumpOp = {
  /** A bump alone: marks stay as they are. */
  bumpOnly: "-",
  /** A write starts: the counter gets one more mark, in force for the window given. */
  mark: "m",
  /** A write committed: the counter loses one mark. */
  release: "r",
  /** One write committed and the next starts, in one bump: one mark fewer, then one more. */
  releaseAndMark: "x",
} as const;
/** One of {@link BumpOp}. */
export type BumpOp = (typeof BumpOp)[keyof typeof BumpOp];

/**
 * The counters of one bump script and their ops: the releases waiting
 * (`released`, a dependency id once per mark it releases) and `deps`, each
 * bumped in `op`. A counter released and marked is bumped once
 * ({@link BumpOp.releaseAndMark}); a second release of one counter needs a
 * step of its own.
 */
export function planBump(released: readonly string[], deps: readonly string[], op: BumpOp): { bumped: readonly string[]; ops: string } {
  if (released.length === 0) return { bumped: deps, ops: op.repeat(deps.length) };
  const byDep = new Map<string, BumpOp>();
  const again: string[] = [];
  for (const d of released)
    if (byDep.has(d)) again.push(d);
    else byDep.set(d, BumpOp.release);
  for (const d of deps) {
    const before = byDep.get(d);
    if (before === undefined) byDep.set(d, op);
    else if (before === BumpOp.release && op === BumpOp.mark) byDep.set(d, BumpOp.releaseAndMark);
    else again.push(d);
  }
  return { bumped: [...byDep.keys(), ...again], ops: [...byDep.values()].join("") + BumpOp.release.repeat(again.length) };
}

/**
 * Bumps the first ARGV[1] version counters in KEYS and reads the rest, in
 * one step. Each bumped counter moves to a new number: one past its last,
 * and, with a bump sequence (ARGV[8] = "1": KEYS' last is the namespace's
 * sequence, {@link SEQUENCE_DEP}), at least the sequence's next value, which
 * it then holds. So every counter's number is at most the sequence's, and a
 * counter bumped after a read took the sequence is above what that read
 * took: fills compare the rows a result holds against it (entry.ts). The
 * model marks of the bumped counters take the sequence's new value too
 * (`model_mark` in {@link VERSION_LUA}). An
 * absent counter starts from ARGV[2], a random value far from any a
 * previous counter of that name could have recorded (the sequence itself
 * too, when absent); every bumped counter lives ARGV[3] ms more. ARGV[4]
 * has one {@link BumpOp} character per bumped counter, and ARGV[5] is the
 * milliseconds a mark holds. A key may appear more than once. Returns every
 * value but the sequence's, as strings, in KEYS order ("" = absent). With
 * ARGV[6] and ARGV[7], it then publishes message ARGV[7] on channel
 * ARGV[6] (the bus), so that a write sends one command; one more element
 * says how that went: 1, or Redis's error when it refused PUBLISH (the
 * bumps stand either way).
 *
 * Numbers below 1e14 (every counter from {@link randomBase}) are written with
 * Lua's own conversion, which is exact there and cheaper than
 * `string.format` (a third of the script's time); larger ones, from older
 * versions, with `%.0f`. Both give the same digits.
 */
export const BUMP = script(`
${VERSION_LUA}
local n = tonumber(ARGV[1])
local ops = ARGV[4]
local now = 0
if string.find(ops, '[mx]') then now = now_ms() end
local nk = #KEYS
local seq = nil
if ARGV[8] == '1' then
  nk = nk - 1
  seq = (tonumber(redis.call('GET', KEYS[#KEYS]) or ARGV[2]) or 0) + 1
end
local top = seq
local out = {}
for i = 1, nk do
  local cur = redis.call('GET', KEYS[i])
  if i <= n then
    local v, c, d = nil, 0, 0
    if cur then v, c, d = parse_version(cur) end
    v = (v or tonumber(ARGV[2])) + 1
    if seq and v < seq then v = seq end
    if top and v > top then top = v end
    local op = string.byte(ops, i)
    if (op == 114 or op == 120) and c > 0 then c = c - 1 end
    if op == 109 or op == 120 then
      if d <= now then c = 0 end
      c = c + 1
      d = math.max(d, now + tonumber(ARGV[5]))
    end
    local s
    if v < 1e14 then s = tostring(v) else s = string.format('%.0f', v) end
    if c > 0 then s = s .. '~' .. c .. '~' .. d end
    redis.call('SET', KEYS[i], s, 'PX', ARGV[3])
    out[i] = s
  else
    out[i] = cur or ''
  end
end
if top then
  local s
  if top < 1e14 then s = tostring(top) else s = string.format('%.0f', top) end
  redis.call('SET', KEYS[#KEYS], s, 'PX', ARGV[3])
  local marks = {}
  for i = 1, n do
    local m = model_mark(KEYS[#KEYS], KEYS[i])
    if m and not marks[m] then
      marks[m] = true
      redis.call('SET', m, s, 'PX', ARGV[3])
    end
  end
end
if ARGV[6] and ARGV[6] ~= '' then
  local sent = redis.pcall('PUBLISH', ARGV[6], ARGV[7])
  if type(sent) == 'table' and sent.err then out[nk + 1] = sent.err else out[nk + 1] = 1 end
end
return out
`);

/**
 * Lua: `new_counter(seq_key, base)` is the value an absent counter starts
 * from. Without a bump sequence, `base`, a random value. With one, `0.`
 * and `base`'s digits: a number below every value the sequence takes (a
 * counter no write bumped is not newer than any read's snapshot), and a
 * text no entry can have recorded before (a counter that expired never
 * makes an entry fresh). The first bump moves it to the sequence.
 * `make_counter(key, seq_key, base, ttl)` creates counter `key` so, living
 * `ttl` ms (the sequence itself starts at `base`), and returns its value.
 */
export const NEW_COUNTER_LUA = `
local function new_counter(seq_key, base)
  if not seq_key then return base end
  return '0.' .. base
end
local function make_counter(key, seq_key, base, ttl)
  local cur = base
  if key ~= seq_key then cur = new_counter(seq_key, base) end
  redis.call('SET', key, cur, 'PX', ttl)
  return cur
end`;

/**
 * Creates the version counters in KEYS that do not exist yet, at ARGV[1]
 * (or, with ARGV[3] = "1", at the bump sequence's value: KEYS' last is the
 * sequence, and is only read), living ARGV[2] ms; returns every counter's
 * value. Run when a read finds counters missing, so that concurrent fills
 * agree on the versions.
 */
export const INIT_VERSIONS = script(`
${NEW_COUNTER_LUA}
local seq_key = nil
if ARGV[3] == '1' then seq_key = KEYS[#KEYS] end
local out = {}
for i = 1, #KEYS - (seq_key and 1 or 0) do
  out[i] = redis.call('GET', KEYS[i]) or make_counter(KEYS[i], seq_key, ARGV[1], ARGV[2])
end
return out
`);
