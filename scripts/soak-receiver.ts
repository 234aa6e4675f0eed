/**
 * The receiving side of scripts/soak.ts, run as its own process: a Forward receiver that decodes every
 * frame, acks it, and counts events, unique ids and duplicates (a bitmap by `record.id`, so hundreds of
 * millions of events fit). IPC: {type:"start"} → {type:"listening", port}; {type:"stop"} (kill: connections
 * destroyed, un-acked frames lost) → {type:"stopped"}; {type:"count"} → {type:"count", ...}.
 */
import net from "node:net";
import { once } from "node:events";
import { pack } from "msgpackr";
import { IdBitmap } from "./id-bitmap.js";
import { FrameSplitter, decodeFrame } from "../test/helpers/misbehaving-msgpack.js";

const ids = new IdBitmap();
let events = 0;
let connections = 0;
let port = 0;
let server: net.Server | undefined;
const sockets = new Set<net.Socket>();

function onConnection(socket: net.Socket): void {
  connections++;
  sockets.add(socket);
  socket.on("close", () => sockets.delete(socket));
  socket.on("error", () => {});
  const splitter = new FrameSplitter();
  socket.on("data", (chunk: Buffer) => {
    try {
      splitter.push(chunk, (frame) => {
        if (socket.destroyed) return;
        const decoded = decodeFrame(frame);
        for (const event of decoded.events) {
          events++;
          ids.mark(event.record.id as number);
        }
        const chunkId = decoded.option?.chunk;
        if (chunkId !== undefined) socket.write(pack({ ack: chunkId }));
      });
    } catch {
      socket.destroy();
    }
  });
}

process.on("message", async (msg: { type: string }) => {
  if (msg.type === "start") {
    server = net.createServer(onConnection);
    server.listen(port, "127.0.0.1");
    await once(server, "listening");
    port = (server.address() as net.AddressInfo).port;
    process.send?.({ type: "listening", port });
  } else if (msg.type === "stop") {
    const s = server;
    server = undefined;
    for (const socket of sockets) socket.destroy();
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
    process.send?.({ type: "stopped" });
  } else if (msg.type === "count") {
    process.send?.({ type: "count", events, unique: ids.unique, duplicates: ids.duplicates, connections });
  }
});
process.on("disconnect", () => process.exit(0));
