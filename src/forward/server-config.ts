import type { ResolvedOptions } from "./options.js";
import type { PoolServer } from "./server-pool.js";

/** Turns the resolved sink options into the identity and connection settings of each server; internal. */
export function poolServers(o: ResolvedOptions): PoolServer[] {
  // Room for several frames on the wire per connection, so acks never starve a fast server.
  const maxInFlightBytes = Math.max(16 * 1024 * 1024, o.batch.maxBytes * 4);
  // ...and, with acks, by count, so a reset re-sends at most this many frames (one event each in Message
  // mode). Without acks a frame is in flight only until the kernel takes it.
  const maxInFlightFrames = o.requireAck ? 128 : Infinity;
  return o.servers.map((s) => {
    const id = s.path ?? `${s.host}:${s.port}`;
    return {
      info: Object.freeze({
        id,
        host: s.host,
        port: s.port,
        path: s.path,
        tls: s.tls !== undefined,
        weight: s.weight,
        standby: s.standby,
      }),
      options: {
        host: s.host,
        port: s.port,
        path: s.path,
        tls: s.tls,
        credentials:
          s.sharedKey === undefined
            ? undefined
            : {
                selfHostname: o.selfHostname,
                sharedKey: s.sharedKey,
                username: s.username,
                password: s.password,
              },
        selfHostname: o.selfHostname,
        connectTimeoutMs: o.connectTimeoutMs,
        ackTimeoutMs: o.ackTimeoutMs,
        requireAck: o.requireAck,
        maxInFlightBytes,
        maxInFlightFrames,
        label: `${s.tls ? "tls://" : s.path ? "unix://" : "tcp://"}${id}`,
      },
    };
  });
}
