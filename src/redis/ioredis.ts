/**
 * The adapter of ioredis clients (ioredis 5 and 6, and iovalkey, whose API
 * is ioredis's): `new Redis(...)` and `new Redis.Cluster([...])`. The
 * client's own types are not imported (ioredis is an optional peer): the
 * structural type below is what the adapter calls.
 * @module
 */
import type { ConnectionEvent, ConnectionEvents, ConnectionListener, ConnectionState, RedisConnection, Script, SubscriberConnection } from "./client.js";

/** What the adapter calls on an ioredis client or Cluster (and on a Cluster's node connections). */
export interface IoRedisClient {
  readonly status: string;
  readonly isCluster?: boolean;
  connect(): Promise<unknown>;
  on(event: string, listener: (...args: never[]) => void): unknown;
  removeListener(event: string, listener: (...args: never[]) => void): unknown;
  evalsha(sha: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>;
  eval(source: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>;
  get(key: string): Promise<string | null>;
  mget(...keys: string[]): Promise<(string | null)[]>;
  del(key: string): Promise<unknown>;
  set(key: string, value: string, px: "PX", ms: number, nx: "NX"): Promise<unknown>;
  pttl(key: string): Promise<number>;
  publish(channel: string, message: string): Promise<unknown>;
  pipeline(commands: (string | number)[][]): { exec(): Promise<Array<[Error | null, unknown]> | null> };
  wait(replicas: number, ms: number): Promise<unknown>;
  ping(): Promise<unknown>;
  subscribe(channel: string): Promise<unknown>;
  unsubscribe(channel: string): Promise<unknown>;
  quit(): Promise<unknown>;
  disconnect(): void;
  duplicate(): IoRedisClient;
  /** A Cluster's node connections. */
  nodes?(role: "master"): IoRedisClient[];
}

/** Whether `v` looks like an ioredis (or iovalkey) client or Cluster. */
export function isIoRedis(v: object): v is IoRedisClient {
  const o = v as Record<string, unknown>;
  return typeof o.status === "string" && typeof o.evalsha === "function" && typeof o.duplicate === "function";
}

/** The client's events that stand for each {@link ConnectionEvent}. */
const EVENTS: Record<ConnectionEvent, readonly string[]> = {
  ready: ["ready"],
  close: ["close"],
  nodes: ["+node", "-node"],
  error: ["error"],
};

/** The state and events of an ioredis connection. */
class IoRedisEvents implements ConnectionEvents {
  readonly cluster: boolean;

  constructor(protected readonly r: IoRedisClient) {
    this.cluster = r.isCluster === true;
  }

  get state(): ConnectionState {
    switch (this.r.status) {
      case "ready":
        return "ready";
      case "wait":
        return "wait";
      case "end":
        return "end";
      default:
        return "connecting";
    }
  }

  connect(): void {
    if (this.r.status === "wait") this.r.connect().catch(() => undefined);
  }

  on(event: ConnectionEvent, listener: ConnectionListener): void {
    if (event === "nodes" && !this.cluster) return;
    for (const e of EVENTS[event]) this.r.on(e, listener);
  }

  off(event: ConnectionEvent, listener: ConnectionListener): void {
    for (const e of EVENTS[event]) this.r.removeListener(e, listener);
  }
}

/** An ioredis client as the cache uses it. */
export class IoRedisConnection extends IoRedisEvents implements RedisConnection {
  readonly family = "ioredis";

  script(s: Script, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    return this.r.evalsha(s.sha, keys.length, ...keys, ...args).catch((err: unknown) => {
      if (!(err instanceof Error) || !err.message.includes("NOSCRIPT")) throw err;
      return this.r.eval(s.source, keys.length, ...keys, ...args);
    });
  }

  get(key: string): Promise<string | null> {
    return this.r.get(key);
  }

  mget(keys: readonly string[]): Promise<(string | null)[]> {
    return this.r.mget(...keys);
  }

  del(key: string): Promise<unknown> {
    return this.r.del(key);
  }

  async setIfAbsent(key: string, value: string, px: number): Promise<boolean> {
    return (await this.r.set(key, value, "PX", px, "NX")) === "OK";
  }

  pttl(key: string): Promise<number> {
    return this.r.pttl(key);
  }

  publish(channel: string, message: string): Promise<unknown> {
    return this.r.publish(channel, message);
  }

  async pipeline(_key: string, commands: ReadonlyArray<readonly (string | number)[]>): Promise<unknown[]> {
    // ioredis names a pipeline's commands in lower case. A Cluster sends a pipeline whose keys share a slot to that slot's master.
    const replies = await this.r.pipeline(commands.map(([name, ...args]) => [String(name).toLowerCase(), ...args])).exec();
    return (replies ?? []).map(([err, reply]) => err ?? reply);
  }

  flushed(): undefined {
    // ioredis puts each command on the socket as it is sent.
    return undefined;
  }

  waitOnMasters(wanted: number, ms: number): Array<() => Promise<unknown>> {
    // WAIT counts what one connection wrote: on a Cluster, each master's own.
    const nodes = this.cluster && this.r.nodes ? this.r.nodes("master") : [this.r];
    return nodes.map((node) => () => node.wait(wanted, ms));
  }

  duplicate(): SubscriberConnection {
    return new IoRedisSubscriber(this.r.duplicate());
  }

  subscriber(): SubscriberConnection {
    return new IoRedisSubscriber(this.r);
  }
}

/** An ioredis connection used for SUBSCRIBE. ioredis subscribes again by itself after a reconnect. */
class IoRedisSubscriber extends IoRedisEvents implements SubscriberConnection {
  /** The "message" handler of each listener. */
  private readonly handlers = new Map<(message: string) => void, (channel: string, message: string) => void>();

  subscribe(channel: string, listener: (message: string) => void): Promise<unknown> {
    if (!this.handlers.has(listener)) {
      const handler = (ch: string, message: string): void => {
        if (ch === channel) listener(message);
      };
      this.handlers.set(listener, handler);
      this.r.on("message", handler);
    }
    return this.r.subscribe(channel);
  }

  unsubscribe(channel: string, listener: (message: string) => void): Promise<unknown> {
    const handler = this.handlers.get(listener);
    if (handler) this.r.removeListener("message", handler);
    this.handlers.delete(listener);
    return this.r.unsubscribe(channel);
  }

  /**
   * On a Cluster, to the node connection ioredis holds the subscription on
   * (a Cluster sends a PING of its own to any node), read through ioredis's
   * `subscriber.getInstance()` (ioredis 5.3 and later, iovalkey); where it is
   * missing, to the Cluster, and a silent subscriber node is noticed only
   * when ioredis closes its connection.
   */
  ping(): Promise<unknown> {
    if (!this.cluster) return this.r.ping();
    const instance = (this.r as unknown as { subscriber?: { getInstance?: () => { ping(): Promise<unknown> } | undefined } }).subscriber?.getInstance?.();
    return (instance ?? this.r).ping();
  }

  quit(): Promise<unknown> {
    return this.r.quit();
  }

  disconnect(): void {
    this.r.disconnect();
  }
}
