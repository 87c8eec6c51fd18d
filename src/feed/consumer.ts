/**
 * The change feed's consumer: while this process holds the namespace's
 * lease (feed/lease.ts), it reads the database's log through a source
 * (postgres.ts, mysql.ts, sqlite.ts), bumps what each change makes stale
 * (translate.ts) locally and in Redis, and only then acknowledges the
 * position. Any failure (the stream, Redis, the lease) stops the source; a
 * new one starts from the last acknowledged position, so nothing is lost,
 * and what was read but not acknowledged is bumped again (harmless).
 * @module
 */
import { FeedSetupError } from "../errors.js";
import type { CacheEvent } from "../events.js";
import type { FeedLease } from "./lease.js";
import type { FeedEvent, FeedSink, FeedSource } from "./source.js";
import type { FeedTranslator } from "./translate.js";

/**
 * Where this process's change feed stands:
 * - `starting`: it holds the lease and is setting the source up;
 * - `streaming`: it reads the log and applies it;
 * - `standby`: another process holds the lease and consumes;
 * - `waiting`: it failed (the database, Redis) and tries again;
 * - `failed`: the database's setup refuses it (a `degraded` event names the setting); tried again after a while;
 * - `stopped`: closed.
 */
export type FeedStatus = "starting" | "streaming" | "standby" | "waiting" | "failed" | "stopped";

/** The change feed's figures, in `stats().feed`. */
export interface FeedStats {
  /** Where it stands. */
  status: FeedStatus;
  /** The database kind the feed reads. */
  source: "postgresql" | "mysql" | "sqlite";
  /** Changes (rows, truncates, schema changes) applied by this process. */
  applied: number;
  /** Runs of changes applied (each one Redis bump and one acknowledgement). */
  batches: number;
  /** Times the source was started again after a failure. */
  restarts: number;
  /** Milliseconds from the commit of the last change applied to its bump (when the log tells commit times). */
  lagMs: number | undefined;
  /** The last position acknowledged (an LSN, a binlog `file:offset`, a `data_version`). */
  position: string | undefined;
  /** The last error, while `waiting` or `failed`. */
  error: string | undefined;
}

/** What the consumer needs. */
export interface ChangeFeedOptions {
  /** A new source (one per start). */
  readonly source: () => FeedSource;
  readonly kind: FeedStats["source"];
  readonly translator: FeedTranslator;
  readonly lease: FeedLease;
  /** How long the lease lives without renewal: a dead consumer's successor takes over within it. */
  readonly leaseMs: number;
  /** Bumps `deps` locally and in Redis; resolves to whether Redis (when there is one) took them. */
  readonly bump: (deps: readonly string[]) => Promise<boolean>;
  /** The ids that make the whole namespace stale (a source that starts afresh). */
  readonly everything: readonly string[];
  readonly emit: (event: CacheEvent) => void;
  /** A setup error: reported once per setting as a `degraded` event. */
  readonly degrade: (event: CacheEvent & { type: "degraded" }) => void;
}

/** Most changes waiting to be applied before a source is made to wait. */
const MAX_WAITING = 5_000;
/** Most dependency ids in one bump. */
const MAX_DEPS = 2_000;
/** First and longest pause before a failed source is started again. */
const RETRY_MS = [100, 5_000] as const;
/** Pause after a setup error, before the setup is checked again. */
const SETUP_RETRY_MS = 30_000;

/** A run of changes read and not yet applied. */
interface Batch {
  deps: Set<string>;
  count: number;
  position: string | undefined;
  committedAt: number | undefined;
}

const emptyBatch = (): Batch => ({ deps: new Set(), count: 0, position: undefined, committedAt: undefined });

/** One process's change feed consumer. */
export class ChangeFeed {
  readonly stats: FeedStats;
  private closed = false;
  private wake: (() => void) | undefined;
  /** The run in progress: its source, and how it ends. */
  private run: { source: FeedSource; end: (err: Error | undefined) => void; ended: boolean } | undefined;
  private waiting: Batch = emptyBatch();
  private applying: Promise<void> | undefined;
  private readonly loop: Promise<void>;
  private readonly reported = new Set<string>();

  constructor(private readonly o: ChangeFeedOptions) {
    this.stats = { status: "standby", source: o.kind, applied: 0, batches: 0, restarts: 0, lagMs: undefined, position: undefined, error: undefined };
    this.loop = this.main();
  }

  private status(status: FeedStatus, error?: unknown): void {
    this.stats.error = error === undefined ? undefined : error instanceof Error ? error.message : String(error);
    if (this.stats.status === status) return;
    this.stats.status = status;
    this.o.emit({ type: "feed-status", status, error: this.stats.error });
  }

  /** Waits `ms`, or less if the consumer is closed. */
  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      t.unref();
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.wake = done;
    });
  }

  private async main(): Promise<void> {
    let failures = 0;
    while (!this.closed) {
      let held = false;
      try {
        held = await this.o.lease.acquire();
      } catch (err) {
        this.status("waiting", err);
        await this.pause(Math.min(RETRY_MS[1], RETRY_MS[0] * 2 ** failures++));
        continue;
      }
      if (this.closed) break;
      if (!held) {
        this.status("standby");
        await this.pause(this.o.leaseMs / 3);
        continue;
      }
      const err = await this.consume();
      if (this.closed) break;
      if (err instanceof FeedSetupError) {
        this.status("failed", err);
        if (!this.reported.has(err.setting)) {
          this.reported.add(err.setting);
          this.o.degrade({ type: "degraded", internal: `change feed (${err.setting})`, effect: err.message });
        }
        // Another process may be set up otherwise; this one checks again later.
        await this.o.lease.release();
        await this.pause(SETUP_RETRY_MS);
        continue;
      }
      this.stats.restarts++;
      this.status("waiting", err);
      await this.pause(Math.min(RETRY_MS[1], RETRY_MS[0] * 2 ** failures++));
      if (this.stats.batches > 0) failures = Math.min(failures, 3);
    }
    this.status("stopped");
  }

  /** One run of a source, while this process holds the lease. Resolves to why it ended (undefined: closed). */
  private async consume(): Promise<Error | undefined> {
    const source = this.o.source();
    let end!: (err: Error | undefined) => void;
    const ended = new Promise<Error | undefined>((resolve) => {
      end = resolve;
    });
    const run = {
      source,
      ended: false,
      end: (err: Error | undefined) => {
        run.ended = true;
        end(err);
      },
    };
    this.run = run;
    this.waiting = emptyBatch();
    const renew = setInterval(() => {
      this.o.lease.acquire().then(
        (held) => {
          if (!held) run.end(new Error("the change feed's lease was taken by another process"));
        },
        (err: unknown) => run.end(err instanceof Error ? err : new Error(String(err))),
      );
    }, this.o.leaseMs / 3);
    renew.unref();
    const sink: FeedSink = {
      push: (events, position, committedAt) => (run.ended ? Promise.resolve() : this.take(run, events, position, committedAt)),
      fail: (err) => run.end(err),
      warn: (message) => {
        if (this.reported.has(message)) return;
        this.reported.add(message);
        this.o.degrade({ type: "degraded", internal: "change feed", effect: message });
      },
    };
    try {
      this.status("starting");
      const from = source.keepsPosition ? undefined : await this.o.lease.load();
      const { fresh } = await Promise.race([source.start(sink, from), ended.then((err) => Promise.reject(err ?? new Error("closed")))]);
      // Changes before now were not read: what is cached may predate them.
      if (fresh && !(await this.o.bump(this.o.everything))) throw new Error("Redis did not take the bump of the whole namespace");
      if (!run.ended) this.status("streaming");
      return await ended;
    } catch (err) {
      return err instanceof Error ? err : new Error(String(err));
    } finally {
      run.ended = true;
      clearInterval(renew);
      await source.stop();
      await this.applying;
      if (this.run === run) this.run = undefined;
    }
  }

  /** Takes changes read by the run's source; resolves once the source may read on. */
  private async take(run: NonNullable<ChangeFeed["run"]>, events: readonly FeedEvent[], position: string, committedAt: number | undefined): Promise<void> {
    const w = this.waiting;
    for (const d of this.o.translator.deps(events)) w.deps.add(d);
    w.count += events.length;
    w.position = position;
    if (committedAt !== undefined) w.committedAt = committedAt;
    this.applying ??= this.apply(run);
    if (w.count >= MAX_WAITING || w.deps.size >= MAX_DEPS) await this.applying;
  }

  /** Applies what waits, run after run: bumps, then acknowledges. A failure ends the run (nothing after it is acknowledged). */
  private async apply(run: NonNullable<ChangeFeed["run"]>): Promise<void> {
    try {
      while (!run.ended && (this.waiting.position !== undefined || this.waiting.deps.size > 0)) {
        const batch = this.waiting;
        this.waiting = emptyBatch();
        if (batch.deps.size > 0 && !(await this.o.bump([...batch.deps]))) {
          run.end(new Error("Redis did not take the change feed's bumps; the source starts again from the last acknowledged position"));
          return;
        }
        if (run.ended || batch.position === undefined) continue;
        await run.source.acknowledge(batch.position);
        if (!run.source.keepsPosition && !(await this.o.lease.save(batch.position))) {
          run.end(new Error("the change feed's lease was taken by another process"));
          return;
        }
        this.stats.applied += batch.count;
        this.stats.batches++;
        this.stats.position = batch.position;
        if (batch.committedAt !== undefined) this.stats.lagMs = Math.max(0, Date.now() - batch.committedAt);
      }
    } catch (err) {
      run.end(err instanceof Error ? err : new Error(String(err)));
    } finally {
      this.applying = undefined;
    }
  }

  /** Stops this process's consumer and gives up the lease at once. Never rejects. */
  async close(): Promise<void> {
    if (this.closed) return this.loop;
    this.closed = true;
    this.run?.end(undefined);
    this.wake?.();
    await this.loop;
    await this.o.lease.release();
  }
}
