/**
 * The adapter of node-redis clients (the `redis` package, 5 and 6):
 * `createClient(...)` and `createCluster(...)`, with RESP2 or RESP3. The
 * package is not imported (it is an optional peer): the structural types
 * below are what the adapter calls.
 *
 * Commands go through `sendCommand` with the client's default reply types
 * (an application's `typeMapping` does not reach the cache), and bypass its
 * client-side cache. The application connects its client: the cache never
 * calls its `connect()` and never closes it; it connects and closes the
 * connections it duplicates for SUBSCRIBE.
 * @module
 */
import { EventEmitter } from "node:events";
import type { ConnectionEvent, ConnectionEvents, ConnectionListener, ConnectionState, RedisConnection, Script, SubscriberConnection } from "./client.js";

/** A message listener as node-redis calls it. */
type MessageListener = (message: string, channel: string) => void;

/** What the adapter calls on a node-redis client and on a Cluster alike. */
interface NodeRedisCommon {
  readonly isOpen: boolean;
  connect(): Promise<unknown>;
  on(event: string, listener: (...args: never[]) => void): unknown;
  off(event: string, listener: (...args: never[]) => void): unknown;
  subscribe(channel: string, listener: MessageListener): Promise<unknown>;
  unsubscribe(channel: string, listener: MessageListener): Promise<unknown>;
  close(): Promise<unknown>;
  destroy(): void;
}

/** What the adapter calls on a node-redis client (`createClient`). */
export interface NodeRedisClient extends NodeRedisCommon {
  readonly isReady: boolean;
  sendCommand(args: string[], options?: object): Promise<unknown>;
  duplicate(overrides?: object): NodeRedisClient;
}

/** What the adapter calls on a node-redis Cluster (`createCluster`). */
export interface NodeRedisCluster extends NodeRedisCommon {
  readonly masters: readonly unknown[];
  readonly pubSubNode?: { readonly client?: NodeRedisClient };
  sendCommand(firstKey: string | undefined, isReadonly: boolean | undefined, args: string[], options?: object): Promise<unknown>;
  nodeClient(node: unknown): NodeRedisClient | Promise<NodeRedisClient>;
  duplicate(overrides?: object): NodeRedisCluster;
}

/** Whether `v` looks like a node-redis client. */
export function isNodeRedisClient(v: object): v is NodeRedisClient {
  const o = v as Record<string, unknown>;
  return typeof o.isOpen === "boolean" && typeof o.isReady === "boolean" && typeof o.sendCommand === "function" && typeof o.duplicate === "function";
}

/** Whether `v` looks like a node-redis Cluster. */
export function isNodeRedisCluster(v: object): v is NodeRedisCluster {
  const o = v as Record<string, unknown>;
  return typeof o.isOpen === "boolean" && typeof o.nodeClient === "function" && typeof o.sendCommand === "function" && Array.isArray(o.masters);
}

/** Replies as node-redis gives them by default (strings, numbers, arrays, null), whatever the application's `typeMapping`. */
const DEFAULT_REPLIES = { typeMapping: {} };

/**
 * The options of every command of a connection whose commands the cache
 * abandons after `timeoutMs` (`redisTimeout`): node-redis drops one still
 * waiting to be sent after twice that (its per-command `timeout`, in the
 * 5.x releases tested here and in 6), so that commands queued while the
 * connection was down (the offline queue) do not all run late, in a burst,
 * once it is back. The
 * cache's deadline stays the one that counts (it makes up for a blocked
 * event loop): hence the margin.
 */
function commandOptions(timeoutMs: number | undefined): object {
  return timeoutMs === undefined ? DEFAULT_REPLIES : { ...DEFAULT_REPLIES, timeout: timeoutMs * 2 };
}

/** The arguments of a script call: EVALSHA (or EVAL, with `head` the source) with its keys and arguments. */
function scriptArgs(command: string, head: string, keys: readonly string[], args: readonly (string | number)[]): string[] {
  const out = [command, head, String(keys.length)];
  for (const k of keys) out.push(k);
  for (const a of args) out.push(typeof a === "string" ? a : String(a));
  return out;
}

/** Resolves on the next turn of the event loop, after the setImmediate callbacks queued before it. */
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** A failed command's reply in a pipeline: its error. */
const asError = (err: unknown): Error => (err instanceof Error ? err : new Error(String(err)));

/** Whether a command failed because Redis does not know the script. */
const noScript = (err: unknown): boolean => err instanceof Error && err.message.startsWith("NOSCRIPT");

/**
 * Where a node-redis connection stands, from its flags, and whether it was
 * ever seen open: a client that is not open is `wait` until it was (the
 * application connects it), `end` afterwards.
 */
class OpenState {
  private opened = false;

  state(isOpen: boolean, isReady: boolean): ConnectionState {
    if (isReady) {
      this.opened = true;
      return "ready";
    }
    if (isOpen) {
      this.opened = true;
      return "connecting";
    }
    return this.opened ? "end" : "wait";
  }
}

/**
 * A client's events as {@link ConnectionEvent}s. node-redis has no "close"
 * event for a lost connection: it reports an error, then "reconnecting" (or,
 * when its reconnect strategy gives up, nothing more); a closed client
 * reports "end". `close` is the first of those after "ready" that finds the
 * client no longer ready.
 */
class ClientEvents {
  /** The client's listeners added for each (event, listener). */
  private readonly bound = new Map<ConnectionEvent, Map<ConnectionListener, Array<[string, (...args: never[]) => void]>>>();

  constructor(private readonly c: NodeRedisClient) {}

  on(event: ConnectionEvent, listener: ConnectionListener): void {
    let byListener = this.bound.get(event);
    if (!byListener) this.bound.set(event, (byListener = new Map()));
    if (byListener.has(listener)) return;
    let handlers: Array<[string, (...args: never[]) => void]>;
    if (event === "ready") handlers = [["ready", () => listener()]];
    else if (event === "error") handlers = [["error", (err: unknown) => listener(err)]];
    else if (event === "close") {
      let up = this.c.isReady;
      const down = (): void => {
        if (!up || this.c.isReady) return;
        up = false;
        listener();
      };
      handlers = [
        ["ready", () => void (up = true)],
        ["error", down],
        ["reconnecting", down],
        ["end", down],
      ];
    } else return; // "nodes": one server
    byListener.set(listener, handlers);
    for (const [e, h] of handlers) this.c.on(e, h);
  }

  off(event: ConnectionEvent, listener: ConnectionListener): void {
    const byListener = this.bound.get(event);
    for (const [e, h] of byListener?.get(listener) ?? []) this.c.off(e, h);
    byListener?.delete(listener);
  }
}

/** node-redis's message listener of each of the cache's: one per listener, so that subscribing again adds none. */
class MessageListeners {
  private readonly byListener = new Map<(message: string) => void, MessageListener>();

  /** The message listener of `listener`. */
  of(listener: (message: string) => void): MessageListener {
    let l = this.byListener.get(listener);
    if (!l) this.byListener.set(listener, (l = (message) => listener(message)));
    return l;
  }

  /** The message listener of `listener`, forgotten. */
  take(listener: (message: string) => void): MessageListener {
    const l = this.of(listener);
    this.byListener.delete(listener);
    return l;
  }
}

/**
 * The events of a Cluster that stand for each {@link ConnectionEvent}.
 * `ready`: the Cluster discovered its nodes. `close`: a node's connection
 * was lost (it reconnects, or node-redis moves its slots to another node
 * after a rediscovery), or a node left. No `nodes`: a node client's first
 * "node-ready" is no reconnect (node-redis reports it as nodes connect,
 * also while a read is on its way), and a node that reconnects reported
 * its loss first.
 */
const CLUSTER_EVENTS: Record<ConnectionEvent, readonly string[]> = {
  ready: ["connect"],
  close: ["node-reconnecting", "node-disconnect", "disconnect"],
  nodes: [],
  error: ["error", "node-error"],
};

/** The state and events of a node-redis client. */
class NodeClientEvents implements ConnectionEvents {
  readonly cluster = false;
  private readonly open = new OpenState();
  private readonly events: ClientEvents;

  constructor(protected readonly c: NodeRedisClient) {
    this.events = new ClientEvents(c);
  }

  get state(): ConnectionState {
    return this.open.state(this.c.isOpen, this.c.isReady);
  }

  connect(): void {
    // The application connects its client; a duplicate is connected when it is made.
  }

  on(event: ConnectionEvent, listener: ConnectionListener): void {
    this.events.on(event, listener);
  }

  off(event: ConnectionEvent, listener: ConnectionListener): void {
    this.events.off(event, listener);
  }
}

/** A node-redis client as the cache uses it. */
export class NodeRedisConnection extends NodeClientEvents implements RedisConnection {
  readonly family = "node-redis";
  private readonly opts: object;

  /** @param timeoutMs the cache's command timeout (see {@link commandOptions}). */
  constructor(c: NodeRedisClient, timeoutMs?: number) {
    super(c);
    this.opts = commandOptions(timeoutMs);
  }

  async script(s: Script, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    try {
      return await this.c.sendCommand(scriptArgs("EVALSHA", s.sha, keys, args), this.opts);
    } catch (err) {
      if (!noScript(err)) throw err;
      return this.c.sendCommand(scriptArgs("EVAL", s.source, keys, args), this.opts);
    }
  }

  get(key: string): Promise<string | null> {
    return this.c.sendCommand(["GET", key], this.opts) as Promise<string | null>;
  }

  mget(keys: readonly string[]): Promise<(string | null)[]> {
    return this.c.sendCommand(["MGET", ...keys], this.opts) as Promise<(string | null)[]>;
  }

  del(key: string): Promise<unknown> {
    return this.c.sendCommand(["DEL", key], this.opts);
  }

  async setIfAbsent(key: string, value: string, px: number): Promise<boolean> {
    return (await this.c.sendCommand(["SET", key, value, "PX", String(px), "NX"], this.opts)) === "OK";
  }

  pttl(key: string): Promise<number> {
    return this.c.sendCommand(["PTTL", key], this.opts) as Promise<number>;
  }

  publish(channel: string, message: string): Promise<unknown> {
    return this.c.sendCommand(["PUBLISH", channel, message], this.opts);
  }

  pipeline(_key: string, commands: ReadonlyArray<readonly (string | number)[]>): Promise<unknown[]> {
    // node-redis flushes the commands of one tick together.
    return Promise.all(commands.map((c) => this.c.sendCommand(c.map(String), this.opts).catch(asError)));
  }

  waitOnMasters(wanted: number, ms: number): Array<() => Promise<unknown>> {
    return [() => this.c.sendCommand(["WAIT", String(wanted), String(ms)], this.opts)];
  }

  /** node-redis flushes from a setImmediate queued by a turn's first command: one queued now runs after it. */
  flushed(): Promise<void> {
    return nextTurn();
  }

  duplicate(): SubscriberConnection {
    return new NodeRedisSubscriber(this.c.duplicate(), true);
  }

  subscriber(): SubscriberConnection {
    return new NodeRedisSubscriber(this.c, false);
  }
}

/** A node-redis client used for SUBSCRIBE. node-redis subscribes again by itself before it is "ready" after a reconnect. */
class NodeRedisSubscriber extends NodeClientEvents implements SubscriberConnection {
  private readonly listeners = new MessageListeners();

  /** @param owned a duplicate: connected here (and closed by its owner). */
  constructor(c: NodeRedisClient, owned: boolean) {
    super(c);
    if (owned) {
      // Errors are reported through the subscriber's "error" listeners; an unheard one must not throw.
      c.on("error", () => undefined);
      c.connect().catch(() => undefined);
    }
  }

  subscribe(channel: string, listener: (message: string) => void): Promise<unknown> {
    return this.c.subscribe(channel, this.listeners.of(listener));
  }

  unsubscribe(channel: string, listener: (message: string) => void): Promise<unknown> {
    return this.c.unsubscribe(channel, this.listeners.take(listener));
  }

  ping(): Promise<unknown> {
    return this.c.sendCommand(["PING"], DEFAULT_REPLIES);
  }

  quit(): Promise<unknown> {
    return this.c.close();
  }

  disconnect(): void {
    try {
      this.c.destroy();
    } catch {
      // already closed
    }
  }
}

/** A node-redis Cluster as the cache uses it. */
export class NodeRedisClusterConnection implements RedisConnection, ConnectionEvents {
  readonly family = "node-redis";
  readonly cluster = true;
  private readonly open = new OpenState();
  private readonly opts: object;

  /** @param timeoutMs the cache's command timeout (see {@link commandOptions}). */
  constructor(
    private readonly c: NodeRedisCluster,
    timeoutMs?: number,
  ) {
    this.opts = commandOptions(timeoutMs);
  }

  get state(): ConnectionState {
    return clusterState(this.c, this.open);
  }

  connect(): void {
    // The application's Cluster: the application connects it.
  }

  on(event: ConnectionEvent, listener: ConnectionListener): void {
    for (const e of CLUSTER_EVENTS[event]) this.c.on(e, listener);
  }

  off(event: ConnectionEvent, listener: ConnectionListener): void {
    for (const e of CLUSTER_EVENTS[event]) this.c.off(e, listener);
  }

  async script(s: Script, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    const first = keys[0];
    try {
      return await this.c.sendCommand(first, false, scriptArgs("EVALSHA", s.sha, keys, args), this.opts);
    } catch (err) {
      if (!noScript(err)) throw err;
      return this.c.sendCommand(first, false, scriptArgs("EVAL", s.source, keys, args), this.opts);
    }
  }

  get(key: string): Promise<string | null> {
    return this.c.sendCommand(key, true, ["GET", key], this.opts) as Promise<string | null>;
  }

  mget(keys: readonly string[]): Promise<(string | null)[]> {
    return this.c.sendCommand(keys[0], true, ["MGET", ...keys], this.opts) as Promise<(string | null)[]>;
  }

  del(key: string): Promise<unknown> {
    return this.c.sendCommand(key, false, ["DEL", key], this.opts);
  }

  async setIfAbsent(key: string, value: string, px: number): Promise<boolean> {
    return (await this.c.sendCommand(key, false, ["SET", key, value, "PX", String(px), "NX"], this.opts)) === "OK";
  }

  pttl(key: string): Promise<number> {
    return this.c.sendCommand(key, true, ["PTTL", key], this.opts) as Promise<number>;
  }

  publish(channel: string, message: string): Promise<unknown> {
    return this.c.sendCommand(undefined, false, ["PUBLISH", channel, message], this.opts);
  }

  pipeline(key: string, commands: ReadonlyArray<readonly (string | number)[]>): Promise<unknown[]> {
    // node-redis flushes the commands of one tick to the key's node together.
    return Promise.all(commands.map((c) => this.c.sendCommand(key, false, c.map(String), this.opts).catch(asError)));
  }

  /**
   * A Cluster hands a command to its node's client a few microtasks after
   * it is sent, and that client flushes it on the next turn: a setImmediate
   * queued in the next turn runs after that flush.
   */
  flushed(): Promise<void> {
    return nextTurn().then(nextTurn);
  }

  waitOnMasters(wanted: number, ms: number): Array<() => Promise<unknown>> {
    // WAIT counts what one connection wrote: each master's node client.
    return this.c.masters.map((m) => async () => (await this.c.nodeClient(m)).sendCommand(["WAIT", String(wanted), String(ms)], this.opts));
  }

  duplicate(): SubscriberConnection {
    // Only the connection that holds the subscription: no connection to every node.
    return new NodeRedisClusterSubscriber(this.c.duplicate({ minimizeConnections: true }), true);
  }

  subscriber(): SubscriberConnection {
    return new NodeRedisClusterSubscriber(this.c, false);
  }
}

/** A Cluster's state: ready once it knows its nodes. */
function clusterState(c: NodeRedisCluster, open: OpenState): ConnectionState {
  return open.state(c.isOpen, c.isOpen && c.masters.length > 0);
}

/** How often a Cluster subscriber whose node connection was lost looks for the one node-redis subscribes on now. */
const WATCH_MS = 100;

/**
 * A node-redis Cluster used for SUBSCRIBE. node-redis holds the subscription
 * on one node client (`pubSubNode`), subscribes again on it after a
 * reconnect, and moves it when a topology change drops that node. This
 * connection's `close` and `ready` are those of that node client: after a
 * loss, it looks for the client every {@link WATCH_MS} until one is ready.
 */
class NodeRedisClusterSubscriber implements SubscriberConnection {
  readonly cluster = true;
  private readonly open = new OpenState();
  private readonly emitter = new EventEmitter();
  private readonly listeners = new MessageListeners();
  /** The node client the subscription is on, as last seen, and its listeners. */
  private watched: { client: NodeRedisClient; up: boolean; handlers: Array<[string, (...args: never[]) => void]> } | undefined;
  private watchTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly c: NodeRedisCluster,
    owned: boolean,
  ) {
    if (owned) {
      // Errors are reported through the subscriber's "error" listeners; an unheard one must not throw.
      c.on("error", () => undefined);
      c.connect().catch(() => undefined);
    }
  }

  get state(): ConnectionState {
    const client = this.watched?.client;
    // While subscribed, the state of the node connection that holds the subscription.
    if (client && !this.closed && this.c.isOpen) return client.isReady ? "ready" : "connecting";
    return clusterState(this.c, this.open);
  }

  connect(): void {
    // Connected when duplicated, or by the application.
  }

  /** `ready`: the Cluster's own (it discovered its nodes), and the subscription's node client's, after a loss. */
  on(event: ConnectionEvent, listener: ConnectionListener): void {
    if (event === "error" || event === "ready") for (const e of CLUSTER_EVENTS[event]) this.c.on(e, listener);
    if (event === "ready" || event === "close") this.emitter.on(event, listener);
  }

  off(event: ConnectionEvent, listener: ConnectionListener): void {
    if (event === "error" || event === "ready") for (const e of CLUSTER_EVENTS[event]) this.c.off(e, listener);
    this.emitter.off(event, listener);
  }

  async subscribe(channel: string, listener: (message: string) => void): Promise<unknown> {
    const r = await this.c.subscribe(channel, this.listeners.of(listener));
    this.watch();
    return r;
  }

  unsubscribe(channel: string, listener: (message: string) => void): Promise<unknown> {
    return this.c.unsubscribe(channel, this.listeners.take(listener));
  }

  /** Watches the node client node-redis subscribes on now, if it is another one. */
  private watch(): boolean {
    const client = this.c.pubSubNode?.client;
    if (!client || client === this.watched?.client) return false;
    this.unwatch();
    const w = { client, up: client.isReady, handlers: [] as Array<[string, (...args: never[]) => void]> };
    const down = (): void => {
      if (!w.up || client.isReady) return;
      w.up = false;
      this.emitter.emit("close");
      this.lookAgain();
    };
    w.handlers = [
      [
        "ready",
        () => {
          w.up = true;
          this.emitter.emit("ready");
        },
      ],
      ["error", down],
      ["reconnecting", down],
      ["end", down],
    ];
    for (const [e, h] of w.handlers) client.on(e, h);
    this.watched = w;
    return true;
  }

  private unwatch(): void {
    const w = this.watched;
    if (w) for (const [e, h] of w.handlers) w.client.off(e, h);
    this.watched = undefined;
  }

  /** After a loss: until a node client holds the subscription again and is ready, looks for it. */
  private lookAgain(): void {
    if (this.watchTimer || this.closed) return;
    this.watchTimer = setInterval(() => {
      if (this.closed) return this.stopLooking();
      const w = this.watched;
      if (w?.up) return this.stopLooking();
      const client = this.c.pubSubNode?.client;
      if (client?.isReady && client !== w?.client) {
        this.watch();
        this.stopLooking();
        this.emitter.emit("ready");
      }
    }, WATCH_MS);
    this.watchTimer.unref();
  }

  private stopLooking(): void {
    clearInterval(this.watchTimer);
    this.watchTimer = undefined;
  }

  ping(): Promise<unknown> {
    const client = this.c.pubSubNode?.client;
    return client ? client.sendCommand(["PING"], DEFAULT_REPLIES) : this.c.sendCommand(undefined, true, ["PING"], DEFAULT_REPLIES);
  }

  quit(): Promise<unknown> {
    this.end();
    return this.c.close();
  }

  disconnect(): void {
    this.end();
    try {
      this.c.destroy();
    } catch {
      // already closed
    }
  }

  private end(): void {
    this.closed = true;
    this.stopLooking();
    this.unwatch();
  }
}
