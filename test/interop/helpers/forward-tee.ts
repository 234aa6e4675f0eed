import net from "node:net";
import type { ReceivedEvent } from "../../helpers/forward-receiver.js";
import { FrameSplitter, decodeFrame } from "../../helpers/misbehaving-msgpack.js";

/** A Forward proxy between the sidecar and a real peer: bytes pass unchanged both ways, events are kept. */
export interface ForwardTee {
  readonly port: number;
  /** Every event the clients sent, in the order the peer received them. */
  readonly events: ReceivedEvent[];
  close(): Promise<void>;
}

/**
 * Listens on 127.0.0.1 (a free port) and pipes each connection to `upstreamPort`, decoding what the client
 * sends (Message, Forward, PackedForward, CompressedPackedForward frames) into `events`: the records the
 * sidecar shipped, exactly as the peer got them. Acks and handshakes flow back untouched.
 */
export async function startForwardTee(upstreamPort: number): Promise<ForwardTee> {
  const events: ReceivedEvent[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(upstreamPort, "127.0.0.1");
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
      s.on("error", () => {
        client.destroy();
        upstream.destroy();
      });
    }
    upstream.pipe(client);
    const splitter = new FrameSplitter();
    client.on("data", (chunk: Buffer) => {
      upstream.write(chunk);
      splitter.push(chunk, (frame) => events.push(...decodeFrame(frame).events));
    });
    client.on("end", () => upstream.end());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    events,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
