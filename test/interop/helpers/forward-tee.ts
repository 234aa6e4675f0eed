import net from "node:net";
import { Unpackr } from "msgpackr";
import { parseFrame, type ReceivedEvent } from "../../helpers/forward-receiver.js";

const unpackr = new Unpackr({ mapsAsObjects: true, useRecords: false });

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
    let pending: Buffer = Buffer.alloc(0);
    client.on("data", (chunk: Buffer) => {
      upstream.write(chunk);
      pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      let consumed = 0;
      try {
        unpackr.unpackMultiple(pending, (value: unknown, _start?: number, end?: number) => {
          consumed = end ?? consumed;
          if (Array.isArray(value)) events.push(...parseFrame(value).events);
        });
      } catch (err) {
        if (!(err as { incomplete?: boolean }).incomplete) throw err;
        consumed = (err as { lastPosition?: number }).lastPosition ?? consumed;
      }
      pending = pending.subarray(consumed);
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
