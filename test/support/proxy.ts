import net from "node:net";

/** A loopback TCP proxy in front of a real server, whose link can be cut and restored. */
export interface TcpProxy {
  /** Port the proxy listens on (127.0.0.1). */
  readonly port: number;
  /** Drops every open connection and refuses new ones until `restore()`. */
  cut(): void;
  /** Accepts connections again. */
  restore(): void;
  /** Accepts new connections but holds them (no bytes reach the server) until {@link admit}. */
  hold(): void;
  /** Connects the held connections to the server, and stops holding new ones. */
  admit(): void;
  /** Drops every open connection; new ones go to `127.0.0.1:port` (a failover to another server). */
  retarget(port: number): void;
  /** Stops forwarding bytes on every connection, open and new, which all stay open: a silent network. */
  silence(): void;
  /** Forwards again, what was held included. */
  speak(): void;
  /** Stops the proxy. */
  close(): Promise<void>;
}

/** Starts a proxy on a free loopback port that forwards to `127.0.0.1:targetPort`. */
export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  let target = targetPort;
  let down = false;
  let holding = false;
  let silent = false;
  const links = new Set<[net.Socket, net.Socket]>();
  const held: net.Socket[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    if (down) {
      client.destroy();
      return;
    }
    if (holding) {
      client.pause();
      sockets.add(client);
      client.on("close", () => sockets.delete(client));
      client.on("error", () => client.destroy());
      held.push(client);
      return;
    }
    link(client);
  });
  const link = (client: net.Socket) => {
    const upstream = net.connect(target, "127.0.0.1");
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
      s.on("error", () => s.destroy());
    }
    const pair: [net.Socket, net.Socket] = [client, upstream];
    links.add(pair);
    if (!silent) {
      client.pipe(upstream).pipe(client);
      client.resume();
    }
    client.on("close", () => {
      links.delete(pair);
      upstream.destroy();
    });
    upstream.on("close", () => client.destroy());
  };
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    cut() {
      down = true;
      for (const s of sockets) s.destroy();
    },
    restore() {
      down = false;
    },
    hold() {
      holding = true;
    },
    silence() {
      silent = true;
      for (const [c, u] of links) {
        c.unpipe(u);
        u.unpipe(c);
        c.pause();
        u.pause();
      }
    },
    speak() {
      silent = false;
      for (const [c, u] of links) {
        c.pipe(u).pipe(c);
        c.resume();
        u.resume();
      }
    },
    retarget(port) {
      target = port;
      for (const s of sockets) s.destroy();
    },
    admit() {
      holding = false;
      for (const c of held.splice(0)) if (!c.destroyed) link(c);
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
