/**
 * The server epoch: what keeps a Redis that came back with older data from
 * serving entries as fresh. A restart from a snapshot, a promoted replica
 * or a failover restores version counters to values that old entries were
 * stored under, so those entries would read as fresh although writes were
 * acknowledged since.
 *
 * Redis holds the id of the server that last checked it (`<ns>:server`) and
 * an epoch (`<ns>:epoch`) that is part of every entry's key. On each
 * (re)connect, before any entry is read through that connection, a process
 * compares the server's own `run_id` with the stored one; when they differ
 * (another server, or the same one restarted), it moves the epoch to a new
 * random value, so every entry stored before is out of reach. A process that
 * starts after a failover does the same on its first connect: it needs no
 * history of its own. Replies to commands sent before a reconnect are
 * discarded by the tier ({@link ConnectionWatch.gen}).
 * @module
 */
import { randomBytes } from "node:crypto";
import type { RedisConnection } from "../redis/client.js";
import { bounded, script } from "./commands.js";
import type { ConnectionWatch } from "./connection.js";
import type { Layout } from "./entry.js";

/**
 * KEYS[1] server id key, KEYS[2] epoch key. ARGV[1] a new epoch. Reads the
 * run_id of the server it runs on (on a Cluster, the node that owns the
 * keys), and moves the epoch when the stored id differs (or no epoch
 * exists). Returns { moved (1/0), the epoch now, 1 if INFO was permitted }.
 */
const CHECK_SERVER = script(`
local info = redis.pcall('INFO', 'server')
local known = 1
local id = ''
if type(info) == 'string' then id = string.match(info, 'run_id:(%x+)') or '' else known = 0 end
local stored = redis.call('GET', KEYS[1])
local epoch = redis.call('GET', KEYS[2])
if stored ~= id or not epoch then
  redis.call('SET', KEYS[1], id)
  redis.call('SET', KEYS[2], ARGV[1])
  return {1, ARGV[1], known}
end
return {0, epoch, known}
`);

/** Settings of a {@link ServerEpoch}. */
export interface ServerEpochOptions {
  redis: RedisConnection;
  connection: ConnectionWatch;
  /** Where the server id and epoch keys of each group live. */
  layout: Layout;
  /** Milliseconds a reader waits for the check (`redisTimeout`). */
  timeoutMs: number;
  /**
   * The epoch of group `g` changed: `first` on its first check, else the
   * server changed since (this process or another one moved the epoch).
   */
  onChanged(g: number, first: boolean): void;
  /** The server's id could not be read (INFO not permitted): a restore cannot be told from a reconnect. */
  onUnknownServer(err: unknown): void;
  /** A check failed (it is tried again by the next reader). */
  onError(err: unknown): void;
}

/** The epoch valid on the current connection, per group of the layout (one on one Redis; per node on a Cluster). */
export class ServerEpoch {
  private readonly values: (string | undefined)[];
  private readonly validGen: number[];
  private checking: Promise<void> | undefined;
  private checkingGen = -1;
  private unknownReported = false;

  constructor(private readonly o: ServerEpochOptions) {
    this.values = new Array<string | undefined>(o.layout.groups).fill(undefined);
    this.validGen = new Array<number>(o.layout.groups).fill(-1);
  }

  /** The epoch of group `g` checked on the current connection, or undefined until its check has run. */
  current(g: number): string | undefined {
    return this.validGen[g] === this.o.connection.gen ? this.values[g] : undefined;
  }

  /** Starts the check of every group on the current connection unless it runs already (called on every "ready"). */
  check(): Promise<void> {
    const gen = this.o.connection.gen;
    if (this.checking && this.checkingGen === gen) return this.checking;
    this.checkingGen = gen;
    // Forgotten once it ends, so that the next reader checks again if it failed.
    const run: Promise<void> = this.run(gen)
      .catch((err: unknown) => this.o.onError(err))
      .finally(() => {
        if (this.checking === run) this.checking = undefined;
      });
    this.checking = run;
    return run;
  }

  /**
   * The epoch of group `g` valid now: at once when checked, else after the
   * check, waiting at most `timeoutMs` for it (and before it, at most
   * `timeoutMs` for a connection not up yet). Undefined when it could not be
   * checked in time.
   */
  ensure(g: number): Promise<string | undefined> {
    const now = this.current(g);
    if (now !== undefined) return Promise.resolve(now);
    // Not connected yet: the wait for the connection has a bound of its own (a cold start).
    if (!this.o.connection.ready) return this.o.connection.whenReady(this.o.timeoutMs).then((up) => (up ? this.checked(g) : undefined));
    return this.checked(g);
  }

  /** The epoch of group `g` once the check of the (ready) connection ran, waiting at most `timeoutMs`. */
  private checked(g: number): Promise<string | undefined> {
    const running = this.check();
    return new Promise((resolve) => {
      // After one turn of I/O: if the event loop was blocked past the bound, a reply that has arrived still wins.
      const timer = setTimeout(() => setImmediate(() => resolve(this.current(g))), this.o.timeoutMs);
      timer.unref();
      running.then(() => {
        clearTimeout(timer);
        resolve(this.current(g));
      });
    });
  }

  private async run(gen: number): Promise<void> {
    const { connection, timeoutMs, layout } = this.o;
    if (!(await connection.whenReady(timeoutMs)) || connection.gen !== gen) return;
    const groups = Array.from({ length: layout.groups }, (_, g) => g);
    await Promise.all(groups.map((g) => (this.current(g) !== undefined ? undefined : this.checkGroup(g, gen).catch((err: unknown) => this.o.onError(err)))));
  }

  private async checkGroup(g: number, gen: number): Promise<void> {
    const { redis, connection, timeoutMs, layout } = this.o;
    const prefix = layout.prefix(g);
    const epoch = randomBytes(6).toString("base64url");
    const r = await bounded(() => redis.script(CHECK_SERVER, [`${prefix}:server`, `${prefix}:epoch`], [epoch]), timeoutMs, "server check");
    if (connection.gen !== gen || !Array.isArray(r) || typeof r[1] !== "string") return;
    if (r[2] !== 1 && !this.unknownReported) {
      this.unknownReported = true;
      this.o.onUnknownServer(new Error("INFO is not permitted to this Redis user"));
    }
    const before = this.values[g];
    this.values[g] = r[1];
    this.validGen[g] = gen;
    if (before !== r[1]) this.o.onChanged(g, before === undefined);
  }
}
