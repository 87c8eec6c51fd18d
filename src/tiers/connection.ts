/**
 * The application's Redis connection as the cache sees it: whether it is
 * ready, whether it ever was (a cold start), and a number that moves each
 * time it closes, so that a reply to a command sent before a reconnect is
 * never taken for one of the server that answers now.
 * @module
 */
import type { ConnectionListener, RedisConnection } from "../redis/client.js";

/** Watches one client's lifecycle events. Remove with {@link close}. */
export class ConnectionWatch {
  /** Moves each time the connection closes: replies under an older number may come from another server. */
  gen = 0;
  /** Whether the connection was ever ready (false: a cold start, still connecting). */
  everReady: boolean;
  private readonly onClose: ConnectionListener = () => {
    this.gen++;
  };
  private readonly onReady: ConnectionListener = () => {
    this.everReady = true;
    this.readied();
  };
  /** A Cluster node joined or left (a failover, a new master): replies may now come from another server. */
  private readonly onNodes: ConnectionListener = () => {
    this.gen++;
    if (this.ready) this.readied();
  };

  /**
   * @param redis the application's client.
   * @param readied called on each "ready" (the first connect and every reconnect).
   */
  constructor(
    private readonly redis: RedisConnection,
    private readonly readied: () => void,
  ) {
    this.everReady = redis.state === "ready";
    redis.on("close", this.onClose);
    redis.on("ready", this.onReady);
    redis.on("nodes", this.onNodes);
  }

  /** Whether commands can be sent now. */
  get ready(): boolean {
    return this.redis.state === "ready";
  }

  /** Resolves true once the connection is ready (at once when it is), false after `ms` ({@link readyWithin}). */
  whenReady(ms: number): Promise<boolean> {
    return readyWithin(this.redis, ms);
  }

  /** Stops watching (the client stays as it is). */
  close(): void {
    this.redis.off("close", this.onClose);
    this.redis.off("ready", this.onReady);
    this.redis.off("nodes", this.onNodes);
  }
}

/** The callers waiting for one client to be ready, served by one "ready" listener. */
interface ReadyWaiters {
  readonly pending: Set<(ready: boolean) => void>;
  readonly onReady: ConnectionListener;
}

/** One listener per client however many commands wait during an outage (no MaxListeners warning for the app). */
const waitersOf = new WeakMap<ReadyWatched, ReadyWaiters>();

/** What {@link readyWithin} watches: a connection's state and its "ready" event. */
type ReadyWatched = Pick<RedisConnection, "state" | "connect" | "on" | "off">;

/** The waiters of `redis`, made on its first wait. */
function waitersFor(redis: ReadyWatched): ReadyWaiters {
  let w = waitersOf.get(redis);
  if (!w) {
    const pending = new Set<(ready: boolean) => void>();
    const onReady = () => {
      for (const done of [...pending]) done(true);
    };
    w = { pending, onReady };
    waitersOf.set(redis, w);
  }
  return w;
}

/**
 * Resolves true once `redis` is ready (at once when it is), false after
 * `ms`. An ioredis client made with `lazyConnect` that has not connected yet
 * is connected here: the application passed it for the cache to use (a
 * node-redis client is connected by the application). The bound
 * is checked after one turn of I/O, so that a connection made while the
 * event loop was blocked still counts. All waits on one client share one
 * "ready" listener, removed when the last of them ends.
 */
export function readyWithin(redis: ReadyWatched, ms: number): Promise<boolean> {
  if (redis.state === "ready") return Promise.resolve(true);
  if (redis.state === "wait") redis.connect();
  const waiters = waitersFor(redis);
  if (waiters.pending.size === 0) redis.on("ready", waiters.onReady);
  return new Promise<boolean>((resolve) => {
    const done = (ready: boolean) => {
      if (!waiters.pending.delete(done)) return;
      clearTimeout(timer);
      if (waiters.pending.size === 0) redis.off("ready", waiters.onReady);
      resolve(ready);
    };
    const timer = setTimeout(() => setImmediate(() => done(redis.state === "ready")), ms);
    timer.unref();
    waiters.pending.add(done);
  });
}
