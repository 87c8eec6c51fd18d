/**
 * The format of a cache entry in Redis, and the Lua scripts that write and
 * read it and its version counters (fills, bumps, reads of entries that
 * record their dependencies), side by side. Run with `runScript` (commands.ts).
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
 * Compare-and-set fill.
 * KEYS[1] entry, KEYS[2..] version counters (with ARGV[6] = "1", KEYS' last
 * is the write sequence, only read: absent counters start at its value).
 * ARGV[1] px, ARGV[2] header prefix, ARGV[3] body, ARGV[4] initial value for
 * absent counters (without a sequence), ARGV[5] ms a counter lives (renewed
 * here), ARGV[7..] versions seen before the query ("" = absent).
 * Stores the entry with the versions it was computed from, or returns 0 if
 * any counter moved since the snapshot or carries a write mark in force
 * (versions.ts).
 */
export const FILL = script(`
${VERSION_LUA}
${NEW_COUNTER_LUA}
local nk = #KEYS
local seq_key = nil
if ARGV[6] == '1' then
  seq_key = KEYS[#KEYS]
  nk = nk - 1
end
local vers = {}
for i = 2, nk do
  local want = ARGV[i + 5]
  local cur = redis.call('GET', KEYS[i])
  if want == '' then
    if cur then return 0 end
    cur = new_counter(seq_key, ARGV[4])
    redis.call('SET', KEYS[i], cur, 'PX', ARGV[5])
  elseif cur ~= want or writing(cur) then
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
 * KEYS[1] entry, KEYS[2..] the versions to snapshot for a later fill.
 * Returns { entry or false, snapshot versions... }; the entry only if every
 * recorded version is still current.
 */
export const READ_RECORDED = script(`
local out = {false}
for i = 2, #KEYS do out[i] = redis.call('GET', KEYS[i]) or '' end
local raw = redis.call('GET', KEYS[1])
if not raw or string.sub(raw, 1, ${RECORDED.length + 1}) ~= '${RECORDED}|' then return out end
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
 * lives (renewed here), ARGV[7] how many of the snapshot's first versions
 * must be unchanged, ARGV[8] "1" when the snapshot's last key is the write
 * sequence (versions.ts), ARGV[9..] snapshot versions ("" = absent).
 *
 * Without the sequence every snapshot version must be unchanged (those past
 * the first ARGV[7] are guards: the models whose rows the result records,
 * which no write may have touched meanwhile). With it, the guards are not
 * compared: a recorded counter above the sequence the read took was bumped
 * since, and refuses the fill, so only a write to what the result holds does.
 */
export const FILL_RECORDED = script(`
${VERSION_LUA}
${NEW_COUNTER_LUA}
local n = tonumber(ARGV[5])
local ttl = ARGV[6]
local eq = tonumber(ARGV[7])
local seq_key, seen, seq_now = nil, nil, nil
if ARGV[8] == '1' then
  seq_key = KEYS[n + 1]
  seen = tonumber(ARGV[n + 8])
  local now = redis.call('GET', seq_key)
  seq_now = now and parse_version(now)
  -- A sequence that went back (lost by Redis) cannot tell what moved: refused.
  if not seen or not seq_now or seq_now < seen then return 0 end
else
  eq = n
end
for i = 1, eq do
  local cur = redis.call('GET', KEYS[i + 1])
  local want = ARGV[i + 8]
  if want == '' then
    if cur then return 0 end
  elseif cur ~= want or writing(cur) then
    return 0
  end
end
local lines = {}
local refused = false
for i = n + 2, #KEYS do
  local cur = redis.call('GET', KEYS[i])
  if not cur then
    -- Absent: no write bumped it since it last expired, unless one did while the query ran and Redis evicted it.
    -- Then the fill is refused, and the counter made, so that the next fill does not find it absent again.
    cur = new_counter(seq_key, ARGV[4])
    redis.call('SET', KEYS[i], cur, 'PX', ttl)
    if seen and seq_now > seen then refused = true end
  elseif writing(cur) then
    return 0
  elseif seen and (parse_version(cur) or 0) > seen then
    return 0
  else
    redis.call('PEXPIRE', KEYS[i], ttl)
  end
  lines[#lines + 1] = KEYS[i] .. '\\n' .. cur .. '\\n'
end
if refused then return 0 end
local header = table.concat(lines)
redis.call('SET', KEYS[1], ARGV[2] .. #header .. '|' .. header .. ARGV[3], 'PX', ARGV[1])
return 1
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
 * moves a counter in every group (one script per group, sent at once).
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
