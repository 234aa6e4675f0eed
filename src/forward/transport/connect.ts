import net from "node:net";
import tls from "node:tls";
import { ForwardConnectError, ForwardConnectTimeoutError, ForwardError } from "../errors.js";
import type { Clock } from "../servers/clock.js";

/** Where and how to open a socket to a Forward server. */
export interface ConnectOptions {
  host: string;
  port: number;
  /** Unix socket path; when set, `host` and `port` are ignored. */
  path: string | undefined;
  /** TLS options, or a function giving them for each new connection (`tlsFiles()`: renewed certificates). */
  tls: tls.ConnectionOptions | (() => tls.ConnectionOptions) | undefined;
  connectTimeoutMs: number;
  /** Human name of the server for messages, e.g. `tcp://127.0.0.1:24224`. */
  label: string;
}

/**
 * Opens a TCP, TLS or unix socket and calls `done` once: with no error when it is connected (TLS: after the TLS
 * handshake; TCP: with no-delay and keep-alive set), or with FORWARD_CONNECT_FAILED / FORWARD_CONNECT_TIMEOUT.
 * Never throws. The timeout never holds the process: the socket does, while it is ref'd.
 */
export function connect(
  o: ConnectOptions,
  clock: Clock,
  done: (error: ForwardError | undefined) => void,
): net.Socket | undefined {
  let socket: net.Socket;
  let readyEvent: "connect" | "secureConnect";
  try {
    if (o.tls) {
      const options = typeof o.tls === "function" ? o.tls() : o.tls;
      const servername = options.servername ?? (o.path || net.isIP(o.host) ? undefined : o.host);
      socket = tls.connect({
        ...options,
        ...(o.path ? { path: o.path } : { host: o.host, port: o.port }),
        servername,
      });
      readyEvent = "secureConnect";
    } else {
      socket = o.path ? net.connect({ path: o.path }) : net.connect({ host: o.host, port: o.port });
      readyEvent = "connect";
    }
  } catch (err) {
    const error =
      err instanceof ForwardError
        ? err
        : new ForwardConnectError(`cannot connect to ${o.label}: ${String(err)}`, err);
    queueMicrotask(() => done(error));
    return undefined;
  }
  let finished = false;
  const timer = clock.setTimeout(() => {
    finish(
      new ForwardConnectTimeoutError(`connecting to ${o.label} timed out after ${o.connectTimeoutMs} ms`),
    );
  }, o.connectTimeoutMs);
  timer.unref();
  const onReady = (): void => {
    if (!o.path) {
      socket.setNoDelay(true);
      socket.setKeepAlive(true, 30_000);
    }
    finish(undefined);
  };
  const onError = (err: Error): void => {
    finish(new ForwardConnectError(`cannot connect to ${o.label}: ${err.message}`, err));
  };
  const onClose = (): void =>
    finish(new ForwardConnectError(`cannot connect to ${o.label}: connection closed`));
  function finish(error: ForwardError | undefined): void {
    if (finished) return;
    finished = true;
    clock.clearTimeout(timer);
    socket.off(readyEvent, onReady);
    socket.off("error", onError);
    socket.off("close", onClose);
    done(error);
  }
  socket.once(readyEvent, onReady);
  socket.once("error", onError);
  socket.once("close", onClose);
  return socket;
}
