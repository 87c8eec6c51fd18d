/**
 * L2: Redis through ioredis. One round trip per read (MGET of the entry and
 * its dependency versions), a compare-and-set fill script, and a bump script.
 * Every command has a timeout, and a circuit breaker skips Redis for a
 * cool-down after repeated failures.
 * @module
 */
import { randomInt } from "node:crypto";
import { LRUCache } from "lru-cache";
import type { RedisClient } from "../options.js";
import { RedisTimeoutError } from "../errors.js";
import type { Timing } from "./memory.js";
import { ALL_DEP } from "../deps/ids.js";
import { deadlinesFor, runScript, send, type Deadlines } from "./commands.js";
import { ConnectionWatch } from "./connection.js";
import { ServerEpoch } from "./epoch.js";
import { BUMP, FILL, FILL_RECORDED, FORMAT, header, INIT_VERSIONS, type L2ReadResult, parseRecorded, parseTiming, READ_RECORDED, RECORDED } from "./entry.js";

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
}

/** Settings of the Redis tier. */
export interface RedisTierOptions {
  namespace: string;
  timeoutMs: number;
  /** Consecutive failures that open the circuit (`breaker.failures`). */
  failureThreshold: number;
  /** Milliseconds the circuit stays open (`breaker.cooldown`). */
  cooldownMs: number;
  /** Called on every failed or timed-out command. */
  onError?: (err: unknown) => void;
  /** Dependency ids that make the whole namespace stale (replayed when the bump queue overflows). */
  everything?: readonly string[];
  /**
   * Where bumps that reached Redis are published, with the dependency ids
   * bumped. Not awaited: the PUBLISH is sent before the write resolves, and
   * other processes' L1 hear of it within the bus delay (L2 readers see the
   * bump at once). `publish` never rejects.
   */
  bus?: { publish(deps: readonly string[]): Promise<unknown> };
  /** The Redis server changed since this process last checked it (restart, restore, failover): entries before it are out of reach. */
  onServerChanged?: () => void;
  /** The server's identity cannot be read (INFO not permitted), so a restore cannot be detected. */
  onUnknownServer?: (err: unknown) => void;
}

/**
 * Milliseconds a version counter lives after its last bump or fill, so Redis
 * does not keep one per row forever. A counter that expires is recreated at a
 * new random value: entries that recorded the old one read as stale, never as
 * fresh.
 */
const VERSION_TTL_MS = 7 * 24 * 3600 * 1000;

/** A random starting value for a version counter, far from any value a previous counter of that name held. */
const randomBase = (): string => String(2 ** 40 + randomInt(2 ** 47));

/** Most bumps kept for replay while Redis is unreachable; past it, the replay bumps the whole namespace. */
const MAX_PENDING_BUMPS = 10_000;

/** The Redis tier. */
export class RedisTier {
  private failures = 0;
  private openUntil = 0;
  private readonly threshold: number;
  private readonly cooldownMs: number;
  private readonly deadlines: Deadlines;
  /** Key lists of recent reads, by entry id. */
  private readonly readKeys = new LRUCache<string, string[]>({ max: 10_000 });
  /** The version keys each `ptc2` entry recorded, as last seen, so that its reads can be one MGET. */
  private readonly recordedKeys = new LRUCache<string, KnownRecorded>({ max: 10_000 });
  /** Bumps not yet delivered to Redis, replayed when it answers again. */
  private readonly pendingBumps = new Set<string>();
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly connection: ConnectionWatch;
  /** The server epoch: part of every entry key (see epoch.ts). */
  readonly epoch: ServerEpoch;

  constructor(
    readonly redis: RedisClient,
    private readonly options: RedisTierOptions,
  ) {
    this.threshold = options.failureThreshold;
    this.cooldownMs = options.cooldownMs;
    this.deadlines = deadlinesFor(options.timeoutMs);
    this.connection = new ConnectionWatch(redis, () => this.connected());
    this.epoch = new ServerEpoch({
      redis,
      connection: this.connection,
      namespace: options.namespace,
      timeoutMs: options.timeoutMs,
      onChanged: (first) => {
        // Key lists hold entry keys, which hold the epoch.
        this.readKeys.clear();
        this.recordedKeys.clear();
        if (!first) options.onServerChanged?.();
      },
      onUnknownServer: (err) => options.onUnknownServer?.(err),
      onError: (err) => options.onError?.(err),
    });
    if (this.connection.ready) void this.epoch.check();
  }

  /** On every (re)connect: check the server, and deliver the bumps that could not be sent. */
  private connected(): void {
    void this.epoch.check();
    if (this.pendingBumps.size > 0) {
      clearTimeout(this.retryTimer);
      this.retryTimer = undefined;
      void this.flush();
    }
  }

  /**
   * The connection's number now: a fill is only stored on the connection its
   * versions were read on (a reconnect may have reached another server).
   */
  get gen(): number {
    return this.connection.gen;
  }

  /** Redis key of a cache entry under the server epoch. */
  entryKey(id: string, epoch: string): string {
    return `${this.options.namespace}:e:${epoch}:${id}`;
  }

  /** Stops watching the application's client. */
  close(): void {
    this.connection.close();
    clearTimeout(this.retryTimer);
  }

  /**
   * Runs `read` with the epoch of the current connection, checked first when
   * it is not yet (waiting at most `redisTimeout`). Undefined when it could not be.
   */
  private checked<R>(read: (epoch: string, gen: number) => Promise<R | undefined>): Promise<R | undefined> {
    const epoch = this.epoch.current();
    if (epoch !== undefined) return read(epoch, this.connection.gen);
    return this.epoch.ensure().then((e) => {
      if (e !== undefined) return read(e, this.connection.gen);
      this.failed(new RedisTimeoutError(`the Redis server could not be checked within ${this.options.timeoutMs} ms`));
      return undefined;
    });
  }

  /** Redis key of a dependency's version counter. */
  versionKey(dep: string): string {
    return `${this.options.namespace}:v:${dep}`;
  }

  /** Whether the circuit is closed (Redis is worth trying). */
  get available(): boolean {
    return this.openUntil === 0 || Date.now() >= this.openUntil;
  }

  /** Reads an entry and the current versions of its dependencies in one round trip. */
  read(id: string, deps: readonly string[]): Promise<L2ReadResult | undefined> {
    return this.checked((epoch, gen) => {
      // The same read asks for the same keys every time: build them once per (id, deps).
      let keys = this.readKeys.get(id);
      if (keys === undefined || keys.length !== deps.length + 1) this.readKeys.set(id, (keys = this.keys(id, epoch, deps)));
      return this.call(
        () => this.redis.mget(...keys),
        // A reply that came after a reconnect may be the old server's: not served.
        (res) => (this.connection.gen === gen ? this.parse(res, deps.length) : undefined),
      );
    });
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
   * the versions of `snapshot` for a later fill. One round trip. The first
   * read of an entry runs a script that validates it in Redis; it learns
   * which version keys the entry recorded, and later reads of the entry
   * fetch those with one MGET and validate them here (falling back to the
   * script when the entry recorded other keys since).
   */
  readRecorded(id: string, snapshot: readonly string[]): Promise<L2ReadResult | undefined> {
    return this.checked((epoch, gen) => this.readRecordedIn(epoch, gen, id, snapshot));
  }

  private readRecordedIn(epoch: string, gen: number, id: string, snapshot: readonly string[]): Promise<L2ReadResult | undefined> {
    const known = this.recordedKeys.get(id);
    if (known) return this.readRecordedKnown(epoch, gen, id, snapshot, known);
    const keys = this.keys(id, epoch, snapshot);
    return this.call(
      () => runScript(this.redis, READ_RECORDED, keys, []),
      (res): L2ReadResult | undefined => {
        if (!Array.isArray(res) || this.connection.gen !== gen) return undefined;
        const versions = new Array<string>(snapshot.length);
        for (let i = 0; i < snapshot.length; i++) versions[i] = String(res[i + 1] ?? "");
        const parsed = typeof res[0] === "string" ? parseRecorded(res[0]) : undefined;
        if (!parsed) return { entry: undefined, versions };
        this.recordedKeys.set(id, { recorded: parsed.recorded.map(([k]) => k), snapshot: -1, fetch: [], index: new Map() });
        return { entry: { body: parsed.body, timing: parsed.timing }, versions };
      },
    );
  }

  /** {@link readRecorded} when the entry's recorded keys are known: one MGET, validated here. */
  private readRecordedKnown(epoch: string, gen: number, id: string, snapshot: readonly string[], known: KnownRecorded): Promise<L2ReadResult | undefined> {
    if (known.snapshot !== snapshot.length) {
      // Built once per entry: the keys to fetch and where each recorded key's version lands.
      const keys = this.keys(id, epoch, snapshot);
      const index = new Map<string, number>();
      for (let i = 1; i < keys.length; i++) index.set(keys[i]!, i);
      for (const k of known.recorded) if (!index.has(k)) index.set(k, keys.push(k) - 1);
      known.fetch = keys;
      known.index = index;
      known.snapshot = snapshot.length;
    }
    const { fetch, index } = known;
    return this.call(
      () => this.redis.mget(...fetch),
      (res): L2ReadResult | Promise<L2ReadResult | undefined> | undefined => {
        if (this.connection.gen !== gen) return undefined;
        const versions = new Array<string>(snapshot.length);
        for (let i = 0; i < snapshot.length; i++) versions[i] = res[i + 1] ?? "";
        const parsed = typeof res[0] === "string" ? parseRecorded(res[0]) : undefined;
        if (!parsed) return { entry: undefined, versions };
        for (const [k, v] of parsed.recorded) {
          const at = index.get(k);
          // A key this read did not fetch: the entry was refilled with other dependencies; read it by script.
          if (at === undefined) {
            this.recordedKeys.delete(id);
            return this.readRecordedIn(epoch, gen, id, snapshot);
          }
          if ((res[at] ?? "") !== v) return { entry: undefined, versions };
        }
        return { entry: { body: parsed.body, timing: parsed.timing }, versions };
      },
    );
  }

  /**
   * Stores an entry unless a version in `snapshot` moved since `versions` was
   * read. With `recorded`, the entry records those dependencies with their
   * current versions (`ptc2`, read back with {@link readRecorded}); without,
   * it records the snapshot (`ptc1`, read back with {@link read}).
   * Not stored (undefined) when the connection changed since `gen`, on
   * which `versions` were read. Resolves true when stored, false when
   * refused, undefined when Redis failed.
   */
  async fill(
    id: string,
    gen: number,
    snapshot: readonly string[],
    versions: readonly string[],
    body: string,
    timing: Timing,
    recorded?: readonly string[],
  ): Promise<boolean | undefined> {
    const epoch = this.epoch.current();
    if (epoch === undefined || gen !== this.connection.gen) return undefined;
    const keys = this.keys(id, epoch, snapshot, recorded ?? []);
    const px = Math.max(1, Math.ceil(timing.keepUntil - Date.now()));
    const base = randomBase();
    const r = await this.call(() =>
      recorded
        ? runScript(this.redis, FILL_RECORDED, keys, [px, header(RECORDED, timing), body, base, snapshot.length, VERSION_TTL_MS, ...versions])
        : runScript(this.redis, FILL, keys, [px, header(FORMAT, timing), body, base, VERSION_TTL_MS, ...versions]),
    );
    return r === undefined ? undefined : r === 1;
  }

  /**
   * Creates the counters a read found missing ("" in `versions`), so that
   * concurrent fills of a fresh namespace agree on them instead of refusing
   * one another. Returns the versions with the missing ones filled in, or
   * `versions` unchanged if Redis failed.
   */
  async ensureVersions(deps: readonly string[], versions: string[]): Promise<string[]> {
    const missing: number[] = [];
    for (let i = 0; i < versions.length; i++) if (versions[i] === "") missing.push(i);
    if (missing.length === 0) return versions;
    const r = await this.call(() =>
      runScript(
        this.redis,
        INIT_VERSIONS,
        missing.map((i) => this.versionKey(deps[i]!)),
        [randomBase(), VERSION_TTL_MS],
      ),
    );
    if (!Array.isArray(r)) return versions;
    const out = versions.slice();
    for (let k = 0; k < missing.length; k++) out[missing[k]!] = String(r[k] ?? "");
    return out;
  }

  /** The entry's key followed by the version keys of each list of dependencies. */
  private keys(id: string, epoch: string, ...deps: (readonly string[])[]): string[] {
    const keys = [this.entryKey(id, epoch)];
    for (const list of deps) for (const d of list) keys.push(this.versionKey(d));
    return keys;
  }

  /**
   * Bumps the version counters of `deps`, with any bumps still waiting from
   * an outage, and reads those of `read` in the same step. Never waits on an
   * open circuit: undelivered bumps are queued (bounded) and replayed.
   * Resolves to the versions after the bump, or undefined if Redis does not
   * have them yet.
   */
  async bump(deps: readonly string[], read: readonly string[] = []): Promise<Map<string, string> | undefined> {
    for (const d of deps) this.pendingBumps.add(d);
    if (this.pendingBumps.size > MAX_PENDING_BUMPS) {
      this.pendingBumps.clear();
      for (const d of this.options.everything ?? [ALL_DEP]) this.pendingBumps.add(d);
    }
    if (!this.available) {
      this.scheduleReplay();
      return undefined;
    }
    return this.flush(read);
  }

  /**
   * Delivers every pending bump, and reads the versions of `read` in the same
   * script. Resolves to the versions after the bump (bumped and read), or
   * undefined when Redis failed (the bumps stay pending).
   */
  private async flush(read: readonly string[] = []): Promise<Map<string, string> | undefined> {
    const batch = [...this.pendingBumps];
    this.pendingBumps.clear();
    const keys = [...batch, ...read].map((d) => this.versionKey(d));
    const r = batch.length + read.length === 0 ? [] : await this.call(() => runScript(this.redis, BUMP, keys, [batch.length, randomBase(), VERSION_TTL_MS]));
    if (Array.isArray(r)) {
      const versions = new Map<string, string>();
      for (const [i, d] of [...batch, ...read].entries()) versions.set(d, String(r[i] ?? ""));
      if (batch.length > 0) void this.options.bus?.publish(batch);
      return versions;
    }
    for (const d of batch) this.pendingBumps.add(d);
    this.scheduleReplay();
    return undefined;
  }

  private scheduleReplay(): void {
    if (this.retryTimer) return;
    const wait = Math.max(50, this.openUntil - Date.now());
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (this.pendingBumps.size > 0) void this.flush();
    }, wait);
    this.retryTimer.unref();
  }

  /** Deletes an entry (used for corrupt values). Errors are ignored. */
  async remove(id: string): Promise<void> {
    const epoch = this.epoch.current();
    if (epoch !== undefined) await this.call(() => this.redis.del(this.entryKey(id, epoch)));
  }

  /** Counts a failure: reported, and the circuit opens after `failureThreshold` in a row. */
  private failed(err: unknown): void {
    this.failures++;
    if (this.failures >= this.threshold) this.openUntil = Date.now() + this.cooldownMs;
    this.options.onError?.(err);
  }

  /**
   * Awaits one command with the timeout. Failures are counted, reported,
   * open the circuit after `failureThreshold` in a row, and resolve to undefined.
   */
  private call<T, R = T>(command: () => Promise<T>, map?: (value: T) => R | PromiseLike<R | undefined>): Promise<R | undefined> {
    // A cold start: wait for the first connection (within the timeout) instead of failing at once.
    if (!this.connection.everReady) {
      return this.connection.whenReady(this.options.timeoutMs).then((ok) => {
        if (ok) return this.call(command, map);
        // Not connected yet is not a failure of Redis: the circuit stays closed.
        this.options.onError?.(new RedisTimeoutError(`Redis did not connect within ${this.options.timeoutMs} ms`));
        return undefined;
      });
    }
    return new Promise<R | undefined>((resolve) => {
      const failed = (err: unknown) => {
        this.failed(err);
        resolve(undefined);
      };
      const deadline = this.deadlines.add(() => failed(new RedisTimeoutError(`Redis command timed out after ${this.options.timeoutMs} ms`)));
      send(command).then(
        (value) => {
          if (!this.deadlines.done(deadline)) return;
          this.failures = 0;
          this.openUntil = 0;
          if (this.pendingBumps.size > 0 && !this.retryTimer) this.scheduleReplay();
          try {
            resolve(map ? map(value) : (value as unknown as R));
          } catch (err) {
            failed(err);
          }
        },
        (err: unknown) => {
          if (this.deadlines.done(deadline)) failed(err);
        },
      );
    });
  }
}
