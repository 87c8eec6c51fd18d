/**
 * What the cache uses of a Redis client, whatever its family: scripts by
 * SHA, a few other commands, a connection of its own for SUBSCRIBE, the
 * connection's state and events, and a Cluster's masters. One adapter per
 * family implements it (ioredis.ts: ioredis 5 and 6, iovalkey;
 * node-redis.ts: the `redis` package, 5 and 6), chosen by detect.ts from the
 * object the application passes as `redis`. The tiers, the bus, the leases
 * and the change feed's lease talk only to these interfaces.
 *
 * Every method may reject (or throw: callers go through `send`/`bounded` in
 * tiers/commands.ts); none has a deadline of its own. Deadlines are the
 * caller's (tiers/commands.ts), whatever the client's own options.
 * @module
 */

/** A Lua script with its SHA1: run by SHA (EVALSHA), sent whole (EVAL) when Redis does not know it yet. */
export interface Script {
  readonly source: string;
  readonly sha: string;
}

/**
 * Where a connection stands:
 * - `wait`: not asked to connect yet (ioredis `lazyConnect`; a node-redis
 *   client before the application's `connect()`);
 * - `connecting`: connecting, or reconnecting after a loss;
 * - `ready`: commands can be sent;
 * - `end`: closed, or its client gave up reconnecting.
 */
export type ConnectionState = "wait" | "connecting" | "ready" | "end";

/**
 * Events of a connection:
 * - `ready`: usable, on the first connect and on every reconnect;
 * - `close`: the connection was lost or closed; a reply after it may come
 *   from another server;
 * - `nodes`: a Cluster's nodes changed (a failover, a node that reconnected);
 * - `error`: an error the client reported (never thrown); its listener gets it.
 */
export type ConnectionEvent = "ready" | "close" | "nodes" | "error";

/** A listener of {@link ConnectionEvent}s (`error` passes the error). */
export type ConnectionListener = (err?: unknown) => void;

/** The state and events of a connection. */
export interface ConnectionEvents {
  /** Where the connection stands now. */
  readonly state: ConnectionState;
  /** Whether it is a Redis Cluster. */
  readonly cluster: boolean;
  /**
   * Starts connecting a connection in state `wait` that the cache may
   * connect (ioredis `lazyConnect`); does nothing otherwise (a node-redis
   * client is connected by the application). Never throws.
   */
  connect(): void;
  on(event: ConnectionEvent, listener: ConnectionListener): void;
  off(event: ConnectionEvent, listener: ConnectionListener): void;
}

/** The application's client, as the cache uses it. It is never closed by the cache. */
export interface RedisConnection extends ConnectionEvents {
  /** The client's family, for messages. */
  readonly family: "ioredis" | "node-redis";
  /** Runs `s` by SHA with `keys` and `args`, sending it whole when Redis does not know it (NOSCRIPT). */
  script(s: Script, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown>;
  get(key: string): Promise<string | null>;
  /** MGET of keys that share a slot. */
  mget(keys: readonly string[]): Promise<(string | null)[]>;
  del(key: string): Promise<unknown>;
  /** `SET key value PX px NX`: resolves true when it was set. */
  setIfAbsent(key: string, value: string, px: number): Promise<boolean>;
  pttl(key: string): Promise<number>;
  publish(channel: string, message: string): Promise<unknown>;
  /**
   * Sends `commands` (each a command name and its arguments), all on `key`'s
   * slot, one after the other without waiting for replies (a pipeline):
   * resolves with one reply per command, the `Error` where one failed.
   */
  pipeline(key: string, commands: ReadonlyArray<readonly (string | number)[]>): Promise<unknown[]>;
  /**
   * `WAIT wanted ms` on every master (the client itself on one Redis): one
   * command per master, each answering the replicas that acknowledged what
   * this client wrote there.
   */
  waitOnMasters(wanted: number, ms: number): Array<() => Promise<unknown>>;
  /**
   * Resolves once the commands sent so far (synchronously, before the call)
   * have gone out on the socket; undefined when each command goes out as it
   * is sent (ioredis). node-redis flushes the commands of one turn of the
   * event loop together, on the next turn: a caller about to
   * keep the event loop busy while a command runs (a write's marks, sent
   * before the database query) waits for this first, so that the command
   * is on its way meanwhile.
   */
  flushed(): Promise<void> | undefined;
  /** A new connection like this one, for SUBSCRIBE, owned by the caller (who closes it). */
  duplicate(): SubscriberConnection;
  /** This connection itself, for SUBSCRIBE (it enters subscriber mode); the caller must not close it. */
  subscriber(): SubscriberConnection;
}

/** A connection used for SUBSCRIBE. */
export interface SubscriberConnection extends ConnectionEvents {
  /**
   * Subscribes `channel`; `listener` gets its messages (once however often
   * it subscribes). Resolves once Redis confirmed. The client subscribes
   * again by itself after a reconnect.
   */
  subscribe(channel: string, listener: (message: string) => void): Promise<unknown>;
  /** Unsubscribes `channel` and forgets `listener`. */
  unsubscribe(channel: string, listener: (message: string) => void): Promise<unknown>;
  /** PING on the connection that holds the subscription: its reply comes after every message published before it. */
  ping(): Promise<unknown>;
  /** Closes the connection politely (QUIT). */
  quit(): Promise<unknown>;
  /** Closes the connection at once. Never throws. */
  disconnect(): void;
}
