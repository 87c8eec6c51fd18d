/**
 * The format of a cache entry in Redis, and the Lua scripts that read and
 * fill it (with the dogpile lease, and for entries that record their own
 * dependencies), side by side; its keys, and their layout on a Cluster. The
 * bump script and the counters' format are in versions.ts. Run by the
 * client's adapter (`script` in redis/client.ts).
 * @module
 */
import { script } from "./commands.js";
import type { Timing } from "./memory.js";
import { NEW_COUNTER_LUA, VERSION_LUA } from "./versions.js";

/** Entry format whose versions are those of the dependencies known before the query. */
export const FORMAT = "ptc1";
/** Entry format that records its dependencies and their versions (checked in Redis). */
export const RECORDED = "ptc2";

/** What a read found in Redis. */
export interface L2ReadResult {
  /** The entry, when it exists and its versions are current (it may be past its freshness). */
  entry: L2Entry | undefined;
  /** Versions of the dependencies as read ("" = absent), the snapshot for a later fill. */
  versions: string[];
  /**
   * For a read that asked for the lease ({@link LeaseAsk}): {@link LEASE_TAKEN},
   * {@link LEASE_NOT_NEEDED} (a servable entry was found), or the
   * milliseconds another holder's lease has left.
   */
  lease?: number;
}

/** A read that takes the dogpile lease on a miss: the lease's token and lifetime. */
export interface LeaseAsk {
  readonly token: string;
  readonly px: number;
}

/** A stored entry whose dependency versions are current. */
export interface L2Entry {
  /** The encoded value. */
  body: string;
  /** Its lifetime and cost. */
  timing: Timing;
  /** For an entry that records its dependencies (`ptc2`): their ids, as recorded. */
  deps?: readonly string[];
}

/**
 * Splits `<fresh>|<stale>|<delta>|` (from `start`) off an entry: its timing
 * and the index after the last separator, or undefined if malformed.
 */
export function parseTiming(raw: string, start: number): { timing: Timing; next: number } | undefined {
  const a = raw.indexOf("|", start);
  const b = raw.indexOf("|", a + 1);
  const c = raw.indexOf("|", b + 1);
  if (a < 0 || b < 0 || c < 0) return undefined;
  const freshUntil = Number(raw.slice(start, a));
  const staleUntil = Number(raw.slice(a + 1, b));
  const delta = Number(raw.slice(b + 1, c));
  if (!Number.isFinite(freshUntil) || !Number.isFinite(staleUntil) || !Number.isFinite(delta)) return undefined;
  return { timing: { freshUntil, staleUntil, keepUntil: Infinity, delta }, next: c + 1 };
}

/** The header prefix every entry starts with: `<format>|<fresh>|<stale>|<delta>|`. */
export const header = (format: string, t: Timing): string => `${format}|${t.freshUntil}|${t.staleUntil}|${Math.round(t.delta * 1000) / 1000}|`;

/**
 * Lua: the dogpile lease (coherence/lease.ts), for the scripts that take it
 * with a read or release it with a fill. A lease's value is its holder's
 * token, with `~w` appended once someone waits for it (tokens have no `~`).
 * `mark_awaited(lock)` appends it, keeping the lease's expiry.
 * `take_lease(lock, token, px)` takes the lease (`SET NX PX`) and returns
 * -2, or, when another holds it, marks it as awaited (the caller waits for
 * its release) and returns its PTTL. `release_lease(lock, token, channel,
 * message)` deletes it if `token` still holds it, and publishes the wake-up
 * only if it was awaited: most leases are released with nobody waiting, and
 * a message nobody needs still costs Redis and every subscriber. Returns 1
 * when released, else 0. The mark lives in the lease's own key, so every
 * script touches only the keys it declares.
 */
export const LEASE_LUA = `
local function mark_awaited(lock)
  local v = redis.call('GET', lock)
  if not v or string.sub(v, -2) == '~w' then return end
  local left = redis.call('PTTL', lock)
  if left > 0 then redis.call('SET', lock, v .. '~w', 'PX', left) end
end
local function take_lease(lock, token, px)
  if redis.call('SET', lock, token, 'PX', px, 'NX') then return -2 end
  mark_awaited(lock)
  return math.max(0, redis.call('PTTL', lock))
end
local function release_lease(lock, token, channel, message)
  if token == '' then return 0 end
  local v = redis.call('GET', lock)
  if v == token then
    redis.call('DEL', lock)
    return 1
  end
  if v == token .. '~w' then
    redis.call('DEL', lock)
    redis.call('PUBLISH', channel, message)
    return 1
  end
  return 0
end`;

/** The channel lease releases publish their wake-up on: `<namespace>:lease`. */
export const leaseChannel = (namespace: string): string => `${namespace}:lease`;

/** The key of the lease on entry `id`: `<prefix>:lock:<id>`, beside the entry (see {@link Layout}). */
export const lockKey = (prefix: string, id: string): string => `${prefix}:lock:${id}`;

/**
 * Lua, for the read scripts after {@link NEW_COUNTER_LUA} and
 * {@link LEASE_LUA}: `claim(out, n, seq_key)` is what a read does on a miss.
 * It creates the counters of KEYS[2..1+n] that `out` found absent (at
 * ARGV[5], living ARGV[6] ms), so that concurrent fills agree on them, and
 * takes the lease KEYS' last (token ARGV[3], px ARGV[4]) into `out[n + 2]`.
 */
const CLAIM_LUA = `
local function claim(out, n, seq_key)
  for i = 1, n do
    if out[i + 1] == '' then out[i + 1] = make_counter(KEYS[i + 1], seq_key, ARGV[5], ARGV[6]) end
  end
  out[n + 2] = take_lease(KEYS[#KEYS], ARGV[3], ARGV[4])
  return out
end`;

/**
 * Lua: `mget(list, first, last)` reads the keys `list[first..last]` with
 * MGET, in slices small enough for `unpack`: one command per slice instead
 * of one per key (an entry may record hundreds of counters). Absent keys
 * read as `false`.
 */
const MGET_LUA = `
local function mget(list, first, last)
  local out = {}
  local i = first
  while i <= last do
    local j = math.min(last, i + 499)
    local part = redis.call('MGET', unpack(list, i, j))
    for k = 1, #part do out[#out + 1] = part[k] end
    i = j + 1
  end
  return out
end`;

/**
 * A fill renews (PEXPIRE) the counters it records only when Redis's clock
 * in ms is a multiple of this: one fill in 16. Renewing each counter of
 * every fill was most of a fill's cost, and the propagation of a script's
 * writes made it dearer still. A counter read often is renewed often
 * enough; one that expires is recreated at a new random value, and the
 * entries that recorded it miss once (never served stale).
 */
export const RENEW_EVERY = 16;

/** Lua, after {@link VERSION_LUA}: `renewing()`, whether this fill renews the counters it records ({@link RENEW_EVERY}). */
const RENEW_LUA = `
local function renewing()
  return now_ms() % ${RENEW_EVERY} == 0
end`;

/** What the read scripts return in their last slot: a servable entry was found, so no lease was asked for. */
export const LEASE_NOT_NEEDED = -1;
/** What the read scripts return in their last slot: the lease was taken. */
export const LEASE_TAKEN = -2;

/**
 * Read of an entry (`ptc1`) that takes the lease on a miss, in one step.
 * KEYS[1] entry, KEYS[2..1+n] version counters, then (ARGV[7] = "1") the
 * bump sequence, only read, then the lease key.
 * ARGV[1] n, ARGV[2] now (ms), ARGV[3] lease token, ARGV[4] lease px,
 * ARGV[5] initial value for absent counters, ARGV[6] ms a counter lives.
 * Returns { entry or false, versions..., lease }: with an entry whose
 * versions are current and that may be served (before its stale time),
 * lease = -1 and nothing changes. Otherwise absent counters are created (so
 * that concurrent fills agree on them) and lease is -2 when taken, else the
 * PTTL of the lease another holds.
 */
export const READ_LEASE = script(`
${NEW_COUNTER_LUA}
${LEASE_LUA}
${CLAIM_LUA}
local n = tonumber(ARGV[1])
local out = {false}
for i = 1, n do out[i + 1] = redis.call('GET', KEYS[i + 1]) or '' end
local raw = redis.call('GET', KEYS[1])
if raw then
  out[1] = raw
  -- ptc1|fresh|stale|delta|v1,v2,...|body
  if string.sub(raw, 1, ${FORMAT.length + 1}) == '${FORMAT}|' then
    local a = string.find(raw, '|', ${FORMAT.length + 2}, true)
    local b = a and string.find(raw, '|', a + 1, true)
    local c = b and string.find(raw, '|', b + 1, true)
    local d = c and string.find(raw, '|', c + 1, true)
    if d and (tonumber(string.sub(raw, a + 1, b - 1)) or 0) > tonumber(ARGV[2]) and string.sub(raw, c + 1, d - 1) == table.concat(out, ',', 2, n + 1) then
      out[n + 2] = ${LEASE_NOT_NEEDED}
      return out
    end
  end
end
local seq_key = nil
if ARGV[7] == '1' then seq_key = KEYS[n + 2] end
return claim(out, n, seq_key)
`);

/**
 * Compare-and-set fill, which also releases the fill's lease.
 * KEYS[1] lease key, KEYS[2] entry, KEYS[3..] version counters (with
 * ARGV[9] = "1", KEYS' last is the bump sequence, only read: absent
 * counters start below its value).
 * ARGV[1] lease token ("" when none is held), ARGV[2] wake-up channel,
 * ARGV[3] wake-up message, ARGV[4] px, ARGV[5] header prefix, ARGV[6] body,
 * ARGV[7] initial value for absent counters (without a sequence), ARGV[8]
 * ms a counter lives (renewed here), ARGV[10..] versions seen before the
 * query ("" = absent).
 * Stores the entry with the versions it was computed from unless a counter
 * moved since the snapshot or carries a write mark in force (versions.ts).
 * Returns 1 when stored, 0 when refused, plus 2 when it released the lease.
 */
export const FILL = script(`
${VERSION_LUA}
${RENEW_LUA}
${NEW_COUNTER_LUA}
${LEASE_LUA}
local function fill()
  local renew = renewing()
  local nk = #KEYS
  local seq_key = nil
  if ARGV[9] == '1' then
    seq_key = KEYS[#KEYS]
    nk = nk - 1
  end
  local vers = {}
  for i = 3, nk do
    local want = ARGV[i + 7]
    local cur = redis.call('GET', KEYS[i])
    if want == '' then
      if cur then return 0 end
      cur = make_counter(KEYS[i], seq_key, ARGV[7], ARGV[8])
    elseif cur ~= want or writing(cur) then
      return 0
    elseif renew then
      redis.call('PEXPIRE', KEYS[i], ARGV[8])
    end
    vers[#vers + 1] = cur
  end
  redis.call('SET', KEYS[2], ARGV[5] .. table.concat(vers, ',') .. '|' .. ARGV[6], 'PX', ARGV[4])
  return 1
end
return fill() + 2 * release_lease(KEYS[1], ARGV[1], ARGV[2], ARGV[3])
`);

/**
 * A `ptc2` entry split into its timing, the recorded `(version key, version)`
 * pairs of its header, and its body; undefined if it is not one or is malformed.
 * The same format READ_RECORDED parses in Lua below.
 */
export function parseRecorded(raw: string, last?: RecordedHeader): (RecordedHeader & { timing: Timing; body: string }) | undefined {
  if (!raw.startsWith(`${RECORDED}|`)) return undefined;
  const t = parseTiming(raw, RECORDED.length + 1);
  if (!t) return undefined;
  const sep = raw.indexOf("|", t.next);
  if (sep < 0) return undefined;
  const len = Number(raw.slice(t.next, sep));
  if (!Number.isSafeInteger(len) || len < 0) return undefined;
  const header = raw.slice(sep + 1, sep + 1 + len);
  const body = raw.slice(sep + 1 + len);
  // The same header as the last read of this entry: its pairs are those.
  if (last !== undefined && last.header === header) return { timing: t.timing, header, recorded: last.recorded, body };
  const lines = header.split("\n");
  if (lines.pop() !== "" || lines.length % 2 !== 0) return undefined;
  const recorded: Array<[string, string]> = [];
  for (let i = 0; i < lines.length; i += 2) recorded.push([lines[i]!, lines[i + 1]!]);
  return { timing: t.timing, header, recorded, body };
}

/** The header of a `ptc2` entry as read, and the `(version key, version)` pairs it holds. */
export interface RecordedHeader {
  readonly header: string;
  readonly recorded: ReadonlyArray<readonly [key: string, version: string]>;
}

/**
 * Read of an entry whose dependencies are recorded in it (`ptc2`): the ids
 * of rows found by the query are only known after it ran.
 * KEYS[1] entry, KEYS[2..1+n] the versions to snapshot for a later fill
 * (n = ARGV[1]), then, when a lease is asked for, the lease key.
 * ARGV[2] now (ms); to take the lease on a miss: ARGV[3] token ("" for
 * none), ARGV[4] px, ARGV[5] initial value for absent counters, ARGV[6] ms
 * a counter lives, ARGV[7] "1" when the snapshot's last key is the write
 * sequence.
 * Returns { entry or false, snapshot versions..., lease }; the entry only
 * if every recorded version is still current. lease as {@link READ_LEASE}
 * says (-1 too when none was asked for; then nothing changes).
 */
export const READ_RECORDED = script(`
${NEW_COUNTER_LUA}
${LEASE_LUA}
${CLAIM_LUA}
${MGET_LUA}
local n = tonumber(ARGV[1])
local out = {false}
for i = 1, n do out[i + 1] = redis.call('GET', KEYS[i + 1]) or '' end
out[n + 2] = ${LEASE_NOT_NEEDED}
local function current()
  local raw = redis.call('GET', KEYS[1])
  if not raw or string.sub(raw, 1, ${RECORDED.length + 1}) ~= '${RECORDED}|' then return false end
  -- ptc2|fresh|stale|delta|len|<header><body>: skip to the 5th separator
  local p = ${RECORDED.length + 1}
  local a = string.find(raw, '|', p + 1, true)
  local b = a and string.find(raw, '|', a + 1, true)
  p = b and string.find(raw, '|', b + 1, true)
  if not p then return false end
  local q = string.find(raw, '|', p + 1, true)
  if not q then return false end
  local len = tonumber(string.sub(raw, p + 1, q - 1))
  if not len then return false end
  -- <key>\\n<version>\\n pairs, read with one MGET
  local keys, want = {}, {}
  local at, stop = q + 1, q + len
  while at <= stop do
    local e = string.find(raw, '\\n', at, true)
    local f = e and string.find(raw, '\\n', e + 1, true)
    if not f or f > stop then return false end
    keys[#keys + 1] = string.sub(raw, at, e - 1)
    want[#want + 1] = string.sub(raw, e + 1, f - 1)
    at = f + 1
  end
  local got = mget(keys, 1, #keys)
  for i = 1, #keys do
    if (got[i] or '') ~= want[i] then return false end
  end
  out[1] = raw
  return (tonumber(string.sub(raw, a + 1, b - 1)) or 0) > tonumber(ARGV[2])
end
if current() or (ARGV[3] or '') == '' then return out end
local seq_key = nil
if ARGV[7] == '1' then seq_key = KEYS[n + 1] end
return claim(out, n, seq_key)
`);

/**
 * Compare-and-set fill of an entry that records its dependencies (`ptc2`),
 * which also releases the fill's lease.
 * KEYS[1] lease key, KEYS[2] entry, KEYS[3..2+n] versions snapshotted
 * before the query (n = ARGV[8]), KEYS[3+n..] dependencies to record.
 * ARGV[1..3] lease token ("" when none is held), wake-up channel and
 * message, ARGV[4] px, ARGV[5] header prefix (`ptc2|fresh|stale|delta|`),
 * ARGV[6] body, ARGV[7] initial value for absent counters, ARGV[8] n,
 * ARGV[9] ms a counter lives (renewed here), ARGV[10] how many of the
 * snapshot's first versions must be unchanged, ARGV[11] "1" when the
 * snapshot's last key is the bump sequence (versions.ts), ARGV[12..]
 * snapshot versions ("" = absent).
 *
 * Without the sequence every snapshot version must be unchanged (those past
 * the first ARGV[10] are guards: the models whose rows the result records,
 * which no write may have touched meanwhile). With it, the guards are not
 * compared: a recorded counter above the sequence the read took was bumped
 * since, and refuses the fill, so only a write to what the result holds does.
 * Returns 1 when stored, 0 when refused, plus 2 when it released the lease.
 */
export const FILL_RECORDED = script(`
${VERSION_LUA}
${RENEW_LUA}
${NEW_COUNTER_LUA}
${LEASE_LUA}
${MGET_LUA}
local function fill()
  local n = tonumber(ARGV[8])
  local ttl = ARGV[9]
  local eq = tonumber(ARGV[10])
  local seq_key, seen, seq_now = nil, nil, nil
  if ARGV[11] == '1' then
    seq_key = KEYS[n + 2]
    seen = tonumber(ARGV[n + 11])
    local now = redis.call('GET', seq_key)
    seq_now = now and parse_version(now)
    -- A sequence that went back (lost by Redis) cannot tell what moved: refused.
    if not seen or not seq_now or seq_now < seen then return 0 end
  else
    eq = n
  end
  for i = 1, eq do
    local cur = redis.call('GET', KEYS[i + 2])
    local want = ARGV[i + 11]
    if want == '' then
      if cur then return 0 end
    elseif cur ~= want or writing(cur) then
      return 0
    end
  end
  local lines = {}
  local refused = false
  local renew = renewing()
  local vals = mget(KEYS, n + 3, #KEYS)
  for i = n + 3, #KEYS do
    local cur = vals[i - n - 2]
    if not cur then
      -- Absent: no write bumped it since it last expired, unless one did while the query ran and Redis evicted it.
      -- Such a bump moved its bump mark past the sequence the read took (versions.ts): then the fill is refused,
      -- and the counter made, so that the next fill does not find it absent again. (A mark is set by every bump
      -- of its bucket: absent, no bump of it since the mark expired, unless Redis evicted the two keys at once.)
      cur = make_counter(KEYS[i], seq_key, ARGV[7], ttl)
      if seen and seq_now > seen then
        local mark = model_mark(seq_key, KEYS[i])
        local at = mark and redis.call('GET', mark)
        if not mark or (at and (parse_version(at) or seen + 1) > seen) then refused = true end
      end
    elseif writing(cur) then
      return 0
    elseif seen and (parse_version(cur) or 0) > seen then
      return 0
    elseif renew then
      redis.call('PEXPIRE', KEYS[i], ttl)
    end
    lines[#lines + 1] = KEYS[i] .. '\\n' .. cur .. '\\n'
  end
  if refused then return 0 end
  local header = table.concat(lines)
  redis.call('SET', KEYS[2], ARGV[5] .. #header .. '|' .. header .. ARGV[6], 'PX', ARGV[4])
  return 1
end
return fill() + 2 * release_lease(KEYS[1], ARGV[1], ARGV[2], ARGV[3])
`);

/** Redis key of a cache entry: `<prefix>:e:<epoch>:<id>` (the server epoch, see epoch.ts; the prefix, see {@link Layout}). */
export const entryKey = (prefix: string, epoch: string, id: string): string => `${prefix}:e:${epoch}:${id}`;

/** Redis key of a dependency's version counter: `<prefix>:v:<dep>`. */
export const versionKey = (prefix: string, dep: string): string => `${prefix}:v:${dep}`;

/**
 * Milliseconds a version counter lives after its last bump or fill, so Redis
 * does not keep one per row forever. A counter that expires is recreated at a
 * new random value: entries that recorded the old one read as stale, never as
 * fresh.
 */
export const VERSION_TTL_MS = 7 * 24 * 3600 * 1000;

/**
 * A random starting value for a version counter, far from any value a
 * previous counter of that name held: 2^40 + up to 2^46, below 1e14, where
 * the bump script writes numbers cheaply (versions.ts).
 */
export const randomBase = (): string => String(2 ** 40 + Math.floor(Math.random() * 2 ** 46));

/**
 * Where keys live. On one Redis, everything is under `<ns>:`. On a Cluster,
 * keys are spread over {@link CLUSTER_GROUPS} hash-tag groups `{<ns>:<g>}`:
 * an entry lives in the group its id hashes to, next to its own copies of
 * the version counters it depends on, so that a read is one MGET and a fill
 * one script in one slot, while entries spread over the masters. A bump
 * moves the counter's copy in every group, one single-key command per copy,
 * all sent at once (cluster-bumps.ts).
 */
export interface Layout {
  /** How many groups (1 on one Redis). */
  readonly groups: number;
  /** The key prefix of group `g`. */
  prefix(g: number): string;
  /** The group of an entry id. */
  groupOf(id: string): number;
}

/** Hash-tag groups on a Cluster: enough to spread entries over the masters of a large cluster. */
export const CLUSTER_GROUPS = 16;

/** The layout of `namespace` on one Redis, or on a Cluster. */
export function layoutFor(namespace: string, cluster: boolean): Layout {
  if (!cluster) return { groups: 1, prefix: () => namespace, groupOf: () => 0 };
  const prefixes = Array.from({ length: CLUSTER_GROUPS }, (_, g) => `{${namespace}:${g}}`);
  return {
    groups: CLUSTER_GROUPS,
    prefix: (g) => prefixes[g]!,
    groupOf: (id) => {
      // FNV-1a over the id (itself a hash, so any bits would do; this keeps it cheap and stable).
      let h = 0x811c9dc5;
      for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
      return (h >>> 0) % CLUSTER_GROUPS;
    },
  };
}
