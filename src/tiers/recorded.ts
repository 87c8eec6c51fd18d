/**
 * Reads of entries that record their own dependencies (`ptc2`): a lookup by
 * a non-primary unique key, whose row is known only after the query ran.
 * The first read of such an entry runs a script that validates it in Redis
 * and learns which version keys it recorded; later reads fetch those with
 * one MGET and validate them here, falling back to the script when the
 * entry recorded other keys since.
 * @module
 */
import { LRUCache } from "lru-cache";
import type { Breaker } from "./breaker.js";
import type { ConnectionWatch } from "./connection.js";
import {
  type L2ReadResult,
  type LeaseAsk,
  LEASE_NOT_NEEDED,
  lockKey,
  parseRecorded,
  randomBase,
  READ_RECORDED,
  type RecordedHeader,
  VERSION_TTL_MS,
  versionKey,
} from "./entry.js";
import type { Place } from "./redis.js";
import type { RedisConnection } from "../redis/client.js";

/** What a `ptc2` entry recorded, as last seen, and the MGET that reads it with a snapshot. */
interface KnownRecorded {
  /** The version keys in its header. */
  readonly recorded: readonly string[];
  /** Snapshot length `fetch` and `index` were built for (-1: not yet). */
  snapshot: number;
  /** Entry key, snapshot version keys, then the recorded keys not among them. */
  fetch: string[];
  /** Position in `fetch` (and the reply) of every version key. */
  index: Map<string, number>;
  /** The header last read, parsed, without the body (a read of the same header skips the parse). */
  last: RecordedHeader | undefined;
  /** The dependency ids of the recorded version keys, for L1. */
  deps: readonly string[];
}

/** Reads `ptc2` entries. */
export class RecordedReads {
  /** The version keys each entry recorded, as last seen, so that its reads can be one MGET. */
  private readonly known = new LRUCache<string, KnownRecorded>({ max: 10_000 });

  constructor(
    private readonly redis: RedisConnection,
    private readonly breaker: Breaker,
    private readonly connection: ConnectionWatch,
    /** The entry key of `id` at `at`, then the version keys of `snapshot`. */
    private readonly keys: (id: string, at: Place, snapshot: readonly string[]) => string[],
    /** Snapshots end with the bump sequence (one Redis). */
    private readonly sequenced: boolean,
  ) {}

  /** Forgets what entries recorded (their keys hold a server epoch that changed). */
  clear(): void {
    this.known.clear();
  }

  /**
   * Reads entry `id` at `at` on connection `gen`, and the versions of
   * `snapshot` for a later fill. One round trip. With `lease`, a miss also
   * creates the counters found absent and takes the dogpile lease.
   */
  read(at: Place, gen: number, id: string, snapshot: readonly string[], lease?: LeaseAsk): Promise<L2ReadResult | undefined> {
    const known = this.known.get(id);
    if (known && lease === undefined) return this.readKnown(at, gen, id, snapshot, known);
    const n = snapshot.length;
    const keys = this.keys(id, at, snapshot);
    const args: (string | number)[] = [n, Date.now()];
    if (lease !== undefined) {
      keys.push(lockKey(at.prefix, id));
      args.push(lease.token, lease.px, randomBase(), VERSION_TTL_MS, this.sequenced ? "1" : "0");
    }
    return this.breaker.call(
      () => this.redis.script(READ_RECORDED, keys, args),
      (res): L2ReadResult | undefined => {
        if (!Array.isArray(res) || this.connection.gen !== gen) return undefined;
        const versions = new Array<string>(n);
        for (let i = 0; i < n; i++) versions[i] = String(res[i + 1] ?? "");
        const taken = lease === undefined ? undefined : Number(res[n + 1] ?? LEASE_NOT_NEEDED);
        const last = this.known.get(id);
        const parsed = typeof res[0] === "string" ? parseRecorded(res[0], last?.last) : undefined;
        if (!parsed) return { entry: undefined, versions, lease: taken };
        if (last?.last?.header === parsed.header) return { entry: { body: parsed.body, timing: parsed.timing, deps: last.deps }, versions, lease: taken };
        const recorded = parsed.recorded.map(([k]) => k);
        const deps = depsOf(at, recorded);
        this.known.set(id, { recorded, snapshot: -1, fetch: [], index: new Map(), last: { header: parsed.header, recorded: parsed.recorded }, deps });
        return { entry: { body: parsed.body, timing: parsed.timing, deps }, versions, lease: taken };
      },
    );
  }

  /** {@link read} when the entry's recorded keys are known: one MGET, validated here. */
  private readKnown(at: Place, gen: number, id: string, snapshot: readonly string[], known: KnownRecorded): Promise<L2ReadResult | undefined> {
    if (known.snapshot !== snapshot.length) {
      // Built once per entry: the keys to fetch and where each recorded key's version lands.
      const keys = this.keys(id, at, snapshot);
      const index = new Map<string, number>();
      for (let i = 1; i < keys.length; i++) index.set(keys[i]!, i);
      for (const k of known.recorded) if (!index.has(k)) index.set(k, keys.push(k) - 1);
      known.fetch = keys;
      known.index = index;
      known.snapshot = snapshot.length;
    }
    const { fetch, index } = known;
    return this.breaker.call(
      () => this.redis.mget(fetch),
      (res): L2ReadResult | Promise<L2ReadResult | undefined> | undefined => {
        if (this.connection.gen !== gen) return undefined;
        const versions = new Array<string>(snapshot.length);
        for (let i = 0; i < snapshot.length; i++) versions[i] = res[i + 1] ?? "";
        const parsed = typeof res[0] === "string" ? parseRecorded(res[0], known.last) : undefined;
        if (!parsed) return { entry: undefined, versions };
        if (known.last?.header !== parsed.header) {
          known.last = { header: parsed.header, recorded: parsed.recorded };
          known.deps = depsOf(
            at,
            parsed.recorded.map(([k]) => k),
          );
        }
        for (const [k, v] of parsed.recorded) {
          const i = index.get(k);
          // A key this read did not fetch: the entry was refilled with other dependencies; read it by script.
          if (i === undefined) {
            this.known.delete(id);
            return this.read(at, gen, id, snapshot);
          }
          if ((res[i] ?? "") !== v) return { entry: undefined, versions };
        }
        return { entry: { body: parsed.body, timing: parsed.timing, deps: known.deps }, versions };
      },
    );
  }
}

/** The dependency ids of version keys at `at` (`<prefix>:v:<dep>`). */
const depsOf = (at: Place, keys: readonly string[]): string[] => {
  const skip = versionKey(at.prefix, "").length;
  return keys.map((k) => k.slice(skip));
};
