import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { ListenAddress } from "./config/listen-address.js";
import { EXPOSITION_CONTENT_TYPE } from "./metrics/exposition.js";
import type { Readiness } from "./metrics/readiness.js";

/** What the endpoint serves: computed at each request, from the sidecar's state at that moment. */
export interface HttpEndpointHandlers {
  /** `/readyz`. */
  readiness(): Readiness;
  /** `/metrics`: the Prometheus text. */
  metrics(): string;
  /** A handler threw (a bug: the request got a 500) or the server failed after listening; the endpoint goes on. */
  onError(err: unknown): void;
  /** A request's response was not taken within `responseDeadlineMs`: its connection was destroyed. */
  onCutOff?(path: string): void;
}

/**
 * The endpoint's bounds: a scraper that is slow, silent or hostile never holds more than `maxConnections` sockets,
 * each for at most `responseDeadlineMs`, and never makes the process read more than `maxHeaderBytes` of headers.
 */
export const HTTP_LIMITS: HttpLimits = {
  /** Headers must have arrived within this time (Node's `headersTimeout`). */
  headersTimeoutMs: 5000,
  /** The whole request must have arrived within this time (Node's `requestTimeout`). */
  requestTimeoutMs: 5000,
  /** An idle keep-alive connection is closed after this time. */
  keepAliveTimeoutMs: 5000,
  /** From a request's arrival, its socket is destroyed when the response has not been taken by then. */
  responseDeadlineMs: 10_000,
  /** Sockets open at once; more are refused (closed at once). */
  maxConnections: 32,
  /** Largest request head. */
  maxHeaderBytes: 8192,
  /** Requests served on one keep-alive connection. */
  maxRequestsPerSocket: 1000,
};

/** The bounds of HttpEndpoint, in ms, bytes and counts (see HTTP_LIMITS for each one's meaning and default). */
export interface HttpLimits {
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly keepAliveTimeoutMs: number;
  readonly responseDeadlineMs: number;
  readonly maxConnections: number;
  readonly maxHeaderBytes: number;
  readonly maxRequestsPerSocket: number;
}

/** The status a client error gets, by Node's error code (anything else: 400). */
const CLIENT_ERRORS: Readonly<Record<string, string>> = {
  ERR_HTTP_REQUEST_TIMEOUT: "408 Request Timeout",
  HPE_HEADER_OVERFLOW: "431 Request Header Fields Too Large",
};

const PATHS = new Set(["/healthz", "/readyz", "/metrics"]);

/**
 * `--http`: `/healthz` (the process answers), `/readyz` (200 or 503 with the reason) and `/metrics` (Prometheus text
 * format 0.0.4) over node:http, GET and HEAD only (405 otherwise), 404 for any other path, within HTTP_LIMITS.
 */
export class HttpEndpoint {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();

  private constructor(
    server: Server,
    private readonly handlers: HttpEndpointHandlers,
    private readonly limits: HttpLimits,
  ) {
    this.#server = server;
  }

  /** Listens on `address` and resolves once it does; rejects with the listen error (`EADDRINUSE`, `EACCES`…). */
  static async listen(
    address: ListenAddress,
    handlers: HttpEndpointHandlers,
    limits: HttpLimits = HTTP_LIMITS,
  ): Promise<HttpEndpoint> {
    const server = createServer({
      maxHeaderSize: limits.maxHeaderBytes,
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      // How often Node checks the two timeouts above.
      connectionsCheckingInterval: Math.min(1000, limits.headersTimeoutMs),
    });
    server.maxConnections = limits.maxConnections;
    server.maxRequestsPerSocket = limits.maxRequestsPerSocket;
    const endpoint = new HttpEndpoint(server, handlers, limits);
    server.on("request", (req, res) => endpoint.#serve(req, res));
    server.on("connection", (socket: Socket) => {
      endpoint.#sockets.add(socket);
      socket.once("close", () => endpoint.#sockets.delete(socket));
    });
    // A request that is malformed, too large or too slow: answer its status when the socket can still take it.
    server.on("clientError", (err: NodeJS.ErrnoException, socket: Socket) => {
      const status = CLIENT_ERRORS[err.code ?? ""] ?? "400 Bad Request";
      if (socket.writable) socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      else socket.destroy();
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(address.port, address.host, () => {
        server.off("error", reject);
        resolve();
      });
    });
    // Once listening, a server error (none is expected) is reported, never thrown from an event.
    server.on("error", (err) => handlers.onError(err));
    server.unref();
    return endpoint;
  }

  /** The address listened on (the real port when `--http` asked for port 0). */
  get address(): { host: string; port: number } {
    const info = this.#server.address() as AddressInfo;
    return { host: info.address, port: info.port };
  }

  /** Stops listening and closes every connection, idle or not. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const socket of this.#sockets) socket.destroy();
    await closed;
  }

  #serve(req: IncomingMessage, res: ServerResponse): void {
    // A body is never read: discard it, so the connection can serve the next request.
    req.resume();
    const path = (req.url ?? "").split("?", 1)[0] as string;
    const deadline = setTimeout(() => {
      req.socket.destroy();
      this.handlers.onCutOff?.(path);
    }, this.limits.responseDeadlineMs);
    deadline.unref();
    res.once("close", () => clearTimeout(deadline));
    if (!PATHS.has(path)) {
      reply(res, 404, "text/plain; charset=utf-8", `not found: try /healthz, /readyz or /metrics\n`);
      return;
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.setHeader("Allow", "GET, HEAD");
      reply(res, 405, "text/plain; charset=utf-8", `method ${req.method ?? ""} not allowed: GET or HEAD\n`);
      return;
    }
    try {
      if (path === "/healthz") {
        reply(res, 200, "text/plain; charset=utf-8", "ok\n");
      } else if (path === "/readyz") {
        const { ready, reason } = this.handlers.readiness();
        reply(
          res,
          ready ? 200 : 503,
          "text/plain; charset=utf-8",
          `${ready ? "ready" : "not ready"}: ${reason}\n`,
        );
      } else {
        reply(res, 200, EXPOSITION_CONTENT_TYPE, this.handlers.metrics());
      }
    } catch (err) {
      this.handlers.onError(err);
      reply(res, 500, "text/plain; charset=utf-8", "internal error; see the sidecar's log\n");
    }
  }
}

function reply(res: ServerResponse, status: number, contentType: string, body: string): void {
  res.statusCode = status;
  res.setHeader("Content-Type", contentType);
  res.setHeader("Content-Length", Buffer.byteLength(body));
  res.setHeader("Cache-Control", "no-store");
  res.end(body);
}
