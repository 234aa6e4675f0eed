import { connect, type Socket } from "node:net";
import type { StatsAddress } from "./address.js";
import { UwsgiStatsError, UwsgiStatsErrorCode as Code } from "./errors.js";

/** Limits of one read. */
export interface ReadLimits {
  /** Deadline for the connection to be established, ms. */
  readonly connectTimeoutMs: number;
  /** Deadline for the whole answer (connect included), ms. */
  readonly timeoutMs: number;
  /** Largest answer accepted, bytes (HTTP head included). */
  readonly maxBytes: number;
}

/** What one read returned: the document's bytes and when its last byte arrived. */
export interface ReadResult {
  readonly body: Buffer;
  /** Epoch ms when the answer was complete. */
  readonly time: number;
  /** Monotonic ms (performance.now) when the answer was complete, for rates. */
  readonly monotonic: number;
}

/**
 * Reads one stats document. Unix and TCP: connect, send nothing, read to EOF. `stats-http`: send a
 * minimal request at once (a silent client stalls uWSGI's master for 4 s), read to EOF, check the status.
 * Data is consumed as it arrives so the master never waits on us; on timeout, overflow or abort the socket
 * is destroyed at once. Rejects only with `UwsgiStatsError`.
 */
export function readStats(
  target: string,
  address: StatsAddress,
  limits: ReadLimits,
  signal?: AbortSignal,
): Promise<ReadResult> {
  return new Promise<ReadResult>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    let connected = false;
    let settled = false;

    const fail = (code: Code, message: string, cause?: unknown): void => {
      if (settled) return;
      settled = true;
      cleanup();
      socket.destroy();
      const data = Buffer.concat(chunks);
      reject(new UwsgiStatsError(code, target, message, { cause, received: data, bytes: received }));
    };
    const onAbort = (): void => fail(Code.ABORTED, `reading ${target} was aborted (the source stopped)`);
    const connectTimedOut = (): void =>
      fail(Code.CONNECT_TIMEOUT, `no connection to ${target} within ${limits.connectTimeoutMs} ms`);
    // One timer when the connect deadline is not the shorter one (the default): fewer timers per read.
    const connectTimer =
      limits.connectTimeoutMs < limits.timeoutMs
        ? setTimeout(connectTimedOut, limits.connectTimeoutMs)
        : undefined;
    const timer = setTimeout(() => {
      if (!connected) {
        connectTimedOut();
        return;
      }
      fail(
        Code.TIMEOUT,
        `${target} did not finish its answer within ${limits.timeoutMs} ms (${received} bytes came)`,
      );
    }, limits.timeoutMs);
    const cleanup = (): void => {
      clearTimeout(connectTimer);
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    };

    const socket: Socket =
      address.kind === "unix"
        ? connect({ path: address.path, allowHalfOpen: false })
        : connect({ host: address.host, port: address.port, allowHalfOpen: false, noDelay: true });
    if (address.kind === "http") {
      socket.write(`GET ${address.path} HTTP/1.0\r\nHost: ${hostHeader(address.host, address.port)}\r\n\r\n`);
    }
    if (signal) {
      if (signal.aborted) {
        onAbort();
        return;
      }
      signal.addEventListener("abort", onAbort, { once: true });
    }

    socket.once("connect", () => {
      connected = true;
      clearTimeout(connectTimer);
    });
    socket.on("data", (chunk: Buffer) => {
      received += chunk.length;
      if (received > limits.maxBytes) {
        fail(Code.TOO_LARGE, `${target} sent more than maxBytes (${limits.maxBytes} bytes); reading stopped`);
        return;
      }
      chunks.push(chunk);
    });
    socket.on("error", (err: NodeJS.ErrnoException) => {
      if (!connected) {
        const [code, what, hint] = connectFailure(err.code);
        fail(code, `${what} ${target} (${err.code ?? err.message})${hint}`, err);
      } else {
        fail(
          Code.READ_FAILED,
          `the connection to ${target} broke after ${received} bytes (${err.code ?? err.message})`,
          err,
        );
      }
    });
    socket.once("end", () => {
      if (settled) return;
      const data = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, received);
      const time = Date.now();
      const monotonic = performance.now();
      if (address.kind !== "http") {
        if (received === 0) {
          fail(Code.CLOSED_EARLY, `${target} closed the connection without sending anything`);
          return;
        }
        settled = true;
        cleanup();
        socket.destroy();
        resolve({ body: data, time, monotonic });
        return;
      }
      const http = splitHttp(data);
      if ("error" in http) {
        fail(http.code, `${target}: ${http.error}`);
        return;
      }
      if (http.status !== 200) {
        settled = true;
        cleanup();
        socket.destroy();
        const message = `${target} answered HTTP ${http.status}`;
        reject(
          new UwsgiStatsError(Code.HTTP_STATUS, target, message, { received: http.body, bytes: received }),
        );
        return;
      }
      if (http.body.length === 0) {
        fail(Code.CLOSED_EARLY, `${target} answered HTTP 200 with an empty body`);
        return;
      }
      settled = true;
      cleanup();
      socket.destroy();
      resolve({ body: http.body, time, monotonic });
    });
  });
}

/** The Host header's value: an IPv6 address goes in brackets (RFC 7230 §5.4), `[::1]:9192`. */
export function hostHeader(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

function connectFailure(errno: string | undefined): [Code, string, string] {
  switch (errno) {
    case "ENOENT":
      return [Code.NOT_FOUND, "no socket file at", ""];
    case "ECONNREFUSED":
      return [Code.REFUSED, "connection refused by", ""];
    case "EACCES":
      return [
        Code.CONNECT_FAILED,
        "no permission to connect to",
        ": this user needs write permission on the socket (uWSGI's chmod-socket, e.g. chmod-socket = 660, and run " +
          "the sidecar in the socket's group) and search permission on its directories",
      ];
    default:
      return [Code.CONNECT_FAILED, "could not connect to", ""];
  }
}

/** Splits an HTTP/1.x response into status and body (uWSGI sends no Content-Length: the body runs to EOF). */
export function splitHttp(data: Buffer): { status: number; body: Buffer } | { code: Code; error: string } {
  if (data.length === 0) return { code: Code.CLOSED_EARLY, error: "closed the connection without answering" };
  if (!data.subarray(0, 5).equals(Buffer.from("HTTP/"))) {
    if (Buffer.from("HTTP/").subarray(0, data.length).equals(data.subarray(0, 5))) {
      return { code: Code.CLOSED_EARLY, error: "closed the connection inside the HTTP head" };
    }
    return { code: Code.HTTP_INVALID, error: "the answer is not an HTTP response" };
  }
  let end = data.indexOf("\r\n\r\n");
  let skip = 4;
  if (end === -1) {
    end = data.indexOf("\n\n");
    skip = 2;
  }
  if (end === -1) return { code: Code.CLOSED_EARLY, error: "closed the connection inside the HTTP head" };
  const statusLine = data.subarray(0, Math.min(end, 200)).toString("latin1").split(/\r?\n/)[0] ?? "";
  const match = /^HTTP\/\d\.\d\s+(\d{3})\b/.exec(statusLine);
  if (!match)
    return { code: Code.HTTP_INVALID, error: `malformed status line ${JSON.stringify(statusLine)}` };
  return { status: Number(match[1]), body: data.subarray(end + skip) };
}
