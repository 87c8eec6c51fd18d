/**
 * L2: Redis, through the client's adapter (redis/client.ts). One round trip per read (MGET of the entry and
 * its dependency versions), a compare-and-set fill script, and a bump script.
 * Every command has a timeout, and a circuit breaker skips Redis for a
 * cool-down after repeated failures.
 * @module
 */
import { LRUCache } from "lru-cache";
import { RedisTimeoutError } from "../errors.js";
import { Breaker, type BreakerOptions } from "./breaker.js";
import { BumpQueue, type BumpQueueOptions, type BumpRead } from "./bumps.js";
import { ConnectionWatch } from "./connection.js";
import {
  entryKey,
  FILL,
  FILL_RECORDED,
  FORMAT,
  header,
  type L2ReadResult,
  type Layout,
  layoutFor,
  type LeaseAsk,
  leaseChannel,
  lockKey,
  parseTiming,
  READ_LEASE,
  RECORDED,
  randomBase,
  VERSION_TTL_MS,
  versionKey,
} from "./entry.js";
import { ServerEpoch } from "./epoch.js";
import { RecordedReads } from "./recorded.js";
import { INIT_VERSIONS, SEQUENCE_DEP } from "./versions.js";
import type { Timing } from "./memory.js";
import type { RedisConnection } from "../redis/client.js";

/** What {@link RedisTier.fill} stores, and the versions it was computed from. */
export interface L2Fill {
  /** The connection's number when `versions` were read. */
  readonly gen: number;
  /** The dependencies whose versions were read before the query. */
  readonly snapshot: readonly string[];
  /** Their versions, as read. */
  readonly versions: readonly string[];
  /** The encoded value. */
  readonly body: string;
  readonly timing: Timing;
  /** For an entry that records its own dependencies: them, and how many of the snapshot's first versions must be unchanged. */
  readonly recorded?: { deps: readonly string[]; equal: number } | undefined;
  /** The token of the dogpile lease the read took. */
  readonly lease?: string | undefined;
}

/** Where an entry lives: its group's key prefix and server epoch. */
export interface Place {
  readonly prefix: string;
  readonly epoch: string;
}

/** Settings of the Redis tier: its breaker's and its bump queue's, and what it reports. */
export interface RedisTierOptions extends BreakerOptions, BumpQueueOptions {
  namespace: string;
  /** The Redis server changed since this process last checked it (restart, restore, failover): entries before it are out of reach. */
  onServerChanged?: () => void;
  /** The server's identity cannot be read (INFO not permitted), so a restore cannot be detected. */
  onUnknownServer?: (err: unknown) => void;
}

/** The Redis tier. */
export class RedisTier {
  private readonly breaker: Breaker;
  private readonly bumps: BumpQueue;
  /** Key lists of recent reads, by entry id: the entry's and its counters', then those a read that takes the lease adds. */
  private readonly readKeys = new LRUCache<string, { mget: string[]; lease: string[] }>({ max: 10_000 });
  /** Reads of entries that record their own dependencies. */
  private readonly recorded: RecordedReads;
  private readonly connection: ConnectionWatch;
  /** The server epoch: part of every entry key (see epoch.ts). */
  readonly epoch: ServerEpoch;
  /** Where keys live: one group on one Redis, hash-tag groups on a Cluster. */
  private readonly layout: Layout;

  constructor(
    readonly redis: RedisConnection,
    private readonly options: RedisTierOptions,
  ) {
    this.connection = new ConnectionWatch(redis, () => {
      // On every (re)connect: check the server, and deliver the bumps that could not be sent.
      void this.epoch.check();
      this.bumps.connected();
    });
    this.layout = layoutFor(options.namespace, redis.cluster);
    this.breaker = new Breaker(this.connection, options);
    this.bumps = new BumpQueue(redis, this.breaker, this.layout, options);
    this.recorded = new RecordedReads(redis, this.breaker, this.connection, (id, at, snapshot) => this.keys(id, at, snapshot), this.layout.groups === 1);
    this.epoch = new ServerEpoch({
      redis,
      connection: this.connection,
      layout: this.layout,
      timeoutMs: options.timeoutMs,
      onChanged: (_g, first) => {
        // Key lists hold entry keys, which hold the epoch.
        this.readKeys.clear();
        this.recorded.clear();
        if (!first) options.onServerChanged?.();
      },
      onUnknownServer: (err) => options.onUnknownServer?.(err),
      onError: (err) => this.breaker.failed(err),
    });
    if (this.connection.ready) void this.epoch.check();
  }

  /**
   * The connection's number now: a fill is only stored on the connection its
   * versions were read on (a reconnect may have reached another server).
   */
  get gen(): number {
    return this.connection.gen;
  }

  /** Stops watching the application's client. */
  close(): void {
    this.connection.close();
    this.bumps.close();
  }

  /**
   * Runs `read` with the key prefix of the group of entry `id` and its epoch
   * on the current connection, checked first when it is not yet (waiting at
   * most `redisTimeout`). Undefined when it could not be.
   */
  private checked<R>(id: string, read: (at: Place, gen: number) => Promise<R | undefined>): Promise<R | undefined> {
    const at = this.placeOf(id);
    if (at !== undefined) return read(at, this.connection.gen);
    return this.epoch.ensure(this.layout.groupOf(id)).then(() => {
      const now = this.placeOf(id);
      if (now !== undefined) return read(now, this.connection.gen);
      this.breaker.failed(new RedisTimeoutError(`the Redis server could not be checked within ${this.options.timeoutMs} ms`));
      return undefined;
    });
  }

  /** Where entry `id` and its counter copies live now, or undefined until its group's epoch is checked. */
  private placeOf(id: string): Place | undefined {
    const g = this.layout.groupOf(id);
    const epoch = this.epoch.current(g);
    if (epoch === undefined) return undefined;
    // One object per group and epoch: every read asks for it.
    let place = this.places[g];
    if (place?.epoch !== epoch) this.places[g] = place = { prefix: this.layout.prefix(g), epoch };
    return place;
  }

  private readonly places: (Place | undefined)[] = [];

  /** The Redis key of entry `id` now (`<prefix>:e:<epoch>:<id>`), or undefined until its group's epoch is checked on this connection. */
  entryKeyOf(id: string): string | undefined {
    const at = this.placeOf(id);
    return at && entryKey(at.prefix, at.epoch, id);
  }

  /** Whether the circuit is closed (Redis is worth trying). */
  get available(): boolean {
    return this.breaker.available;
  }

  /**
   * Reads an entry and the current versions of its dependencies in one
   * round trip. With `lease`, a miss (no servable entry) also creates the
   * counters found absent and takes the dogpile lease, in the same step.
   */
  read(id: string, deps: readonly string[], lease?: LeaseAsk): Promise<L2ReadResult | undefined> {
    const at = this.placeOf(id);
    return at !== undefined
      ? this.readAt(at, this.connection.gen, id, deps, lease)
      : this.checked(id, (place, gen) => this.readAt(place, gen, id, deps, lease));
  }

  private readAt(at: Place, gen: number, id: string, deps: readonly string[], lease: LeaseAsk | undefined): Promise<L2ReadResult | undefined> {
    // The same read asks for the same keys every time: build them once per (id, deps).
    let keys = this.readKeys.get(id);
    if (keys === undefined || keys.mget.length !== deps.length + 1) {
      const mget = this.keys(id, at, deps);
      const tail = this.sequenced ? [versionKey(at.prefix, SEQUENCE_DEP), lockKey(at.prefix, id)] : [lockKey(at.prefix, id)];
      this.readKeys.set(id, (keys = { mget, lease: [...mget, ...tail] }));
    }
    const { mget, lease: leaseKeys } = keys;
    const n = deps.length;
    // A reply that came after a reconnect may be the old server's: not served.
    if (lease === undefined)
      return this.breaker.call(
        () => this.redis.mget(mget),
        (res) => (this.connection.gen === gen ? this.parse(res, n) : undefined),
      );
    const args = [n, Date.now(), lease.token, lease.px, randomBase(), VERSION_TTL_MS, this.sequenced ? "1" : "0"];
    return this.breaker.call(
      () => this.redis.script(READ_LEASE, leaseKeys, args),
      (res) => {
        if (!Array.isArray(res) || this.connection.gen !== gen) return undefined;
        const found = this.parse(res as (string | null)[], n);
        found.lease = Number(res[n + 1]);
        return found;
      },
    );
  }

  /** The key of the lease on entry `id` (in its group on a Cluster, so that a script can read the entry and take it). */
  lockKey(id: string): string {
    return lockKey(this.layout.prefix(this.layout.groupOf(id)), id);
  }

  /** Splits an MGET reply into the entry (if its versions are current) and the versions read. */
  private parse(res: (string | null)[], depCount: number): L2ReadResult {
    const versions = new Array<string>(depCount);
    for (let i = 0; i < depCount; i++) versions[i] = res[i + 1] ?? "";
    const raw = res[0];
    // ptc1|<fresh>|<stale>|<delta>|<v1,v2,...>|<body>
    if (raw == null || !raw.startsWith(`${FORMAT}|`)) return { entry: undefined, versions };
    const t = parseTiming(raw, FORMAT.length + 1);
    const v = t ? raw.indexOf("|", t.next) : -1;
    if (!t || v < 0 || raw.slice(t.next, v) !== versions.join(",")) return { entry: undefined, versions };
    return { entry: { body: raw.slice(v + 1), timing: t.timing }, versions };
  }

  /**
   * Reads an entry that records its own dependencies (`ptc2`), and snapshots
   * the versions of `snapshot` for a later fill. One round trip (see recorded.ts).
   */
  readRecorded(id: string, snapshot: readonly string[], lease?: LeaseAsk): Promise<L2ReadResult | undefined> {
    const at = this.placeOf(id);
    return at !== undefined
      ? this.recorded.read(at, this.connection.gen, id, snapshot, lease)
      : this.checked(id, (place, gen) => this.recorded.read(place, gen, id, snapshot, lease));
  }

  /**
   * Stores an entry unless a version in `snapshot` moved since `versions` was
   * read. With `recorded`, the entry records those dependencies with their
   * current versions (`ptc2`, read back with {@link readRecorded}); without,
   * it records the snapshot (`ptc1`, read back with {@link read}). With
   * `lease` (the token of a dogpile lease the read took), the same script
   * releases it and wakes its waiters.
   * Not stored (stored: undefined) when the connection changed since `gen`,
   * on which `versions` were read, or when Redis failed; stored: false when
   * refused. `released` says whether the lease was released.
   */
  async fill(id: string, { gen, snapshot, versions, body, timing, recorded, lease }: L2Fill): Promise<{ stored: boolean | undefined; released: boolean }> {
    // A write-through may come before any read checked the server: check it now.
    const at = this.placeOf(id) ?? ((await this.epoch.ensure(this.layout.groupOf(id))) !== undefined ? this.placeOf(id) : undefined);
    if (at === undefined || gen !== this.connection.gen) return { stored: undefined, released: false };
    const px = Math.max(1, Math.ceil(timing.keepUntil - Date.now()));
    const base = randomBase();
    const seq = this.sequenced ? "1" : "0";
    const release = [lease ?? "", leaseChannel(this.options.namespace), id];
    let r: unknown;
    if (recorded) {
      // The snapshot of a recorded entry ends with the bump sequence (request.ts) on one Redis.
      const keys = [lockKey(at.prefix, id), ...this.keys(id, at, snapshot, recorded.deps)];
      const args = [...release, px, header(RECORDED, timing), body, base, snapshot.length, VERSION_TTL_MS, recorded.equal, seq, ...versions];
      r = await this.breaker.call(() => this.redis.script(FILL_RECORDED, keys, args));
    } else {
      const keys = [lockKey(at.prefix, id), ...this.keys(id, at, snapshot, this.sequenced ? [SEQUENCE_DEP] : [])];
      r = await this.breaker.call(() => this.redis.script(FILL, keys, [...release, px, header(FORMAT, timing), body, base, VERSION_TTL_MS, seq, ...versions]));
    }
    if (typeof r !== "number") return { stored: undefined, released: false };
    return { stored: (r & 1) === 1, released: (r & 2) === 2 };
  }

  /**
   * Whether bumps move the namespace's bump sequence ({@link SEQUENCE_DEP}):
   * on one Redis. A Cluster's bumps are single-key commands (see
   * cluster-bumps.ts), so its fills of recorded entries compare guards instead.
   */
  get sequenced(): boolean {
    return this.layout.groups === 1;
  }

  /**
   * Creates the counters a read found missing ("" in `versions`), so that
   * concurrent fills of a fresh namespace agree on them instead of refusing
   * one another. Returns the versions with the missing ones filled in, or
   * `versions` unchanged if Redis failed.
   */
  async ensureVersions(id: string, deps: readonly string[], versions: string[]): Promise<string[]> {
    const missing: number[] = [];
    for (let i = 0; i < versions.length; i++) if (versions[i] === "") missing.push(i);
    const prefix = this.layout.prefix(this.layout.groupOf(id));
    if (missing.length === 0) return versions;
    const keys = missing.map((i) => versionKey(prefix, deps[i]!));
    if (this.sequenced) keys.push(versionKey(prefix, SEQUENCE_DEP));
    const r = await this.breaker.call(() => this.redis.script(INIT_VERSIONS, keys, [randomBase(), VERSION_TTL_MS, this.sequenced ? "1" : "0"]));
    if (!Array.isArray(r)) return versions;
    const out = versions.slice();
    for (let k = 0; k < missing.length; k++) out[missing[k]!] = String(r[k] ?? "");
    return out;
  }

  /** The entry's key followed by the version keys of each list of dependencies. */
  private keys(id: string, at: Place, ...deps: (readonly string[])[]): string[] {
    const keys = [entryKey(at.prefix, at.epoch, id)];
    for (const list of deps) for (const d of list) keys.push(versionKey(at.prefix, d));
    return keys;
  }

  /** Bumps the version counters of `deps`, and reads those of `read` in the same step ({@link BumpQueue.bump}). */
  bump(deps: readonly string[], read?: BumpRead): Promise<Map<string, string> | undefined> {
    return this.bumps.bump(deps, read);
  }

  /** Whether writes may mark their dependencies while they run ({@link BumpQueue.marks}). */
  get marks(): boolean {
    return this.bumps.marks;
  }

  /** A write starts: bumps `deps` with a write mark held `windowMs` ({@link BumpQueue.mark}). */
  mark(deps: readonly string[], windowMs: number): Promise<boolean> {
    return this.bumps.mark(deps, windowMs);
  }

  /** The write committed: bumps `deps` again, releasing its marks ({@link BumpQueue.release}). */
  release(deps: readonly string[]): Promise<void> {
    return this.bumps.release(deps);
  }

  /** Resolves once the commands sent so far have gone out on the socket; undefined when they already have ({@link RedisConnection.flushed}). */
  flushed(): Promise<void> | undefined {
    return this.redis.flushed();
  }

  /** Like {@link release}, sent with this process's next mark, or on the next turn ({@link BumpQueue.releaseSoon}). */
  releaseSoon(deps: readonly string[]): void {
    this.bumps.releaseSoon(deps);
  }

  /** Sends now the releases {@link releaseSoon} left waiting ({@link BumpQueue.sendReleases}). */
  sendReleases(): void {
    this.bumps.sendReleases();
  }

  /** Deletes an entry (used for corrupt values). Errors are ignored. */
  async remove(id: string): Promise<void> {
    const at = this.placeOf(id);
    if (at !== undefined) await this.breaker.call(() => this.redis.del(entryKey(at.prefix, at.epoch, id)));
  }
}
