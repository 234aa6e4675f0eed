import net from "node:net";

/**
 * A TCP load balancer in a few lines, in front of Forward servers: each new connection goes to the next backend,
 * round-robin, and stays there (as a ClusterIP or an L4 balancer does). Push to `backends` to add one at run time.
 * Closed after the test.
 */
export async function roundRobinBalancer(
  t: { after: (fn: () => Promise<void>) => void },
  backends: { host: string; port: number }[],
): Promise<{ port: number; backends: { host: string; port: number }[] }> {
  let next = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const target = backends[next++ % backends.length]!;
    const upstream = net.connect(target.port, target.host);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("error", () => {});
      s.on("close", () => sockets.delete(s));
    }
    client.pipe(upstream).pipe(client);
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { port: (server.address() as net.AddressInfo).port, backends };
}
