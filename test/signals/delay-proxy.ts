import net from 'node:net';

/**
 * A TCP proxy on loopback in front of a real server that delays what the server sends
 * by `delayMs` (so every round trip through it takes that much longer, as a side in a
 * farther zone or behind a saturated link would), or refuses and drops connections.
 * Both settings apply at once, to sessions already open too.
 */
export class DelayProxy {
  delayMs = 0;
  private refusing = false;
  private readonly pairs = new Set<[net.Socket, net.Socket]>();

  private constructor(
    private readonly server: net.Server,
    readonly port: number,
  ) {}

  static async start(upstreamPort: number, upstreamHost = '127.0.0.1'): Promise<DelayProxy> {
    const server = net.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const proxy = new DelayProxy(server, (server.address() as net.AddressInfo).port);
    server.on('connection', (client) => proxy.relay(client, upstreamPort, upstreamHost));
    return proxy;
  }

  /** Refuse new connections and drop the open ones (true), or relay again (false). */
  refuse(refusing: boolean): void {
    this.refusing = refusing;
    if (refusing) for (const [client, upstream] of this.pairs) (client.destroy(), upstream.destroy());
  }

  async stop(): Promise<void> {
    this.refuse(true);
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private relay(client: net.Socket, upstreamPort: number, upstreamHost: string): void {
    if (this.refusing) {
      client.destroy();
      return;
    }
    const upstream = net.connect(upstreamPort, upstreamHost);
    const pair: [net.Socket, net.Socket] = [client, upstream];
    this.pairs.add(pair);
    const end = () => {
      this.pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    client.pipe(upstream);
    // Server -> client chunks are delayed in order: each waits for the one before it.
    let chain = Promise.resolve();
    upstream.on('data', (chunk: Buffer) => {
      const due = Date.now() + this.delayMs;
      chain = chain
        .then(() => new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, due - Date.now()))))
        .then(() => {
          if (!client.destroyed) client.write(chunk);
        });
    });
  }
}
