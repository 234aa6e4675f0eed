import { createServer, type Server, type Socket } from "node:net";
import path from "node:path";

/** A unix-socket server written for a test; `close()` destroys every connection. */
export interface FakeStatsServer {
  readonly path: string;
  /** How many connections were accepted. */
  connections(): number;
  close(): Promise<void>;
}

/** Starts a unix-socket server at `dir/name` that hands every connection to `onConnection`. */
export async function fakeStatsServer(
  dir: string,
  name: string,
  onConnection: (socket: Socket) => void,
): Promise<FakeStatsServer> {
  const socketPath = path.join(dir, name);
  const sockets = new Set<Socket>();
  let count = 0;
  const server: Server = createServer((socket) => {
    count++;
    sockets.add(socket);
    socket.on("error", () => undefined);
    socket.on("close", () => sockets.delete(socket));
    onConnection(socket);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(socketPath, () => resolve());
  });
  return {
    path: socketPath,
    connections: () => count,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Serves `body` and closes, like uWSGI's stats server. */
export function serveOnce(body: string | Buffer): (socket: Socket) => void {
  return (socket) => socket.end(body);
}
