import { UwsgiForwardError } from "../errors.js";

/** Stable codes of every error a `ForwardSink` raises, one subclass of `ForwardError` each; docs/errors.md describes them. */
export const ForwardErrorCode = {
  AUTH_FAILED: "FORWARD_AUTH_FAILED",
  CONNECT_TIMEOUT: "FORWARD_CONNECT_TIMEOUT",
  HANDSHAKE_TIMEOUT: "FORWARD_HANDSHAKE_TIMEOUT",
  CONNECT_FAILED: "FORWARD_CONNECT_FAILED",
  ACK_TIMEOUT: "FORWARD_ACK_TIMEOUT",
  ACK_UNSUPPORTED: "FORWARD_ACK_UNSUPPORTED",
  WRITE_TIMEOUT: "FORWARD_WRITE_TIMEOUT",
  CONNECTION_CLOSED: "FORWARD_CONNECTION_CLOSED",
  PROTOCOL_ERROR: "FORWARD_PROTOCOL_ERROR",
  CLOSE_TIMEOUT: "FORWARD_CLOSE_TIMEOUT",
  INVALID_RECORD: "FORWARD_INVALID_RECORD",
  INVALID_TIME: "FORWARD_INVALID_TIME",
  INVALID_CALL: "FORWARD_INVALID_CALL",
  BUFFER_PATH: "FORWARD_BUFFER_PATH",
  BUFFER_LOCKED: "FORWARD_BUFFER_LOCKED",
  BUFFER_FORMAT: "FORWARD_BUFFER_FORMAT",
  BUFFER_WRITE: "FORWARD_BUFFER_WRITE",
  TLS_FILES: "FORWARD_TLS_FILES",
  RESOLVE_FAILED: "FORWARD_RESOLVE_FAILED",
  HEARTBEAT_TIMEOUT: "FORWARD_HEARTBEAT_TIMEOUT",
} as const;

/** One of the `FORWARD_*` codes. */
export type ForwardErrorCode = (typeof ForwardErrorCode)[keyof typeof ForwardErrorCode];

/**
 * Base class of every error raised by the Forward protocol client (`ForwardSink`).
 * Branch on `code`: every subclass carries a stable `FORWARD_*` code.
 */
export class ForwardError extends UwsgiForwardError {
  declare readonly code: ForwardErrorCode;

  constructor(code: ForwardErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** The server refused the handshake (`PONG` with `false`), or its PONG digest proved it does not know the shared key. Code `FORWARD_AUTH_FAILED`. */
export class ForwardAuthError extends ForwardError {
  /** The reason the server gave in its PONG, or our own reason when the server could not be verified. */
  readonly reason: string;
  constructor(message: string, reason: string) {
    super("FORWARD_AUTH_FAILED", message);
    this.reason = reason;
  }
}

/** The TCP/TLS/unix connection was not established within `connectTimeoutMs`. Code `FORWARD_CONNECT_TIMEOUT`. */
export class ForwardConnectTimeoutError extends ForwardError {
  constructor(message: string) {
    super("FORWARD_CONNECT_TIMEOUT", message);
  }
}

/** The server sent no HELO (when a shared key is configured) or no PONG within `connectTimeoutMs`. Code `FORWARD_HANDSHAKE_TIMEOUT`. */
export class ForwardHandshakeTimeoutError extends ForwardError {
  constructor(message: string) {
    super("FORWARD_HANDSHAKE_TIMEOUT", message);
  }
}

/** Connecting failed (refused, unreachable, TLS failure...); the system error is the `cause`. Code `FORWARD_CONNECT_FAILED`. */
export class ForwardConnectError extends ForwardError {
  constructor(message: string, cause?: unknown) {
    super("FORWARD_CONNECT_FAILED", message, { cause });
  }
}

/** A frame sent with a chunk id got no `{ack}` within `ackTimeoutMs`; the connection is closed and the frame re-sent. Code `FORWARD_ACK_TIMEOUT`. */
export class ForwardAckTimeoutError extends ForwardError {
  constructor(message: string) {
    super("FORWARD_ACK_TIMEOUT", message);
  }
}

/**
 * Acks are required but the server has never sent one (typically Fluentd's `in_unix`, which never acks).
 * The server is taken out of rotation for good instead of re-sending forever. Code `FORWARD_ACK_UNSUPPORTED`.
 */
export class ForwardAckUnsupportedError extends ForwardError {
  constructor(message: string) {
    super("FORWARD_ACK_UNSUPPORTED", message);
  }
}

/** A frame written without acks was not taken by the kernel within `ackTimeoutMs` (the server stopped reading). Code `FORWARD_WRITE_TIMEOUT`. */
export class ForwardWriteTimeoutError extends ForwardError {
  constructor(message: string) {
    super("FORWARD_WRITE_TIMEOUT", message);
  }
}

/** The connection closed or failed while in use; unsettled frames are re-sent. Code `FORWARD_CONNECTION_CLOSED`. */
export class ForwardConnectionClosedError extends ForwardError {
  constructor(message: string, cause?: unknown) {
    super("FORWARD_CONNECTION_CLOSED", message, { cause });
  }
}

/** The server sent bytes that are not a valid Forward protocol reply (garbage, an oversized frame, an unknown ack). Code `FORWARD_PROTOCOL_ERROR`. */
export class ForwardProtocolError extends ForwardError {
  constructor(message: string) {
    super("FORWARD_PROTOCOL_ERROR", message);
  }
}

/** `close({ timeoutMs })` gave up before every event was delivered; see the close report for the counts. Code `FORWARD_CLOSE_TIMEOUT`. */
export class ForwardCloseTimeoutError extends ForwardError {
  constructor(message: string) {
    super("FORWARD_CLOSE_TIMEOUT", message);
  }
}

/**
 * `send()` refused an event before encoding it: a tag that is not a non-empty string, a record that is not a plain
 * object (a class instance, a string, an array, null), or a value msgpack cannot encode. Code `FORWARD_INVALID_RECORD`.
 */
export class ForwardInvalidRecordError extends ForwardError {
  constructor(message: string, cause?: unknown) {
    super("FORWARD_INVALID_RECORD", message, { cause });
  }
}

/**
 * `send()` refused an event's time: epoch milliseconds before 1973 (most likely seconds), a negative or non-finite
 * number, an invalid `Date`, an EventTime out of range, or a `bigint` of nanoseconds out of range. Code
 * `FORWARD_INVALID_TIME`.
 */
export class ForwardInvalidTimeError extends ForwardError {
  constructor(message: string) {
    super("FORWARD_INVALID_TIME", message);
  }
}

/**
 * A call the sink cannot honour: `send()` with a callback (fluent-logger style) or with extra arguments, or
 * `emit()` of a name that is none of the sink's events (data goes through `send()`). Code `FORWARD_INVALID_CALL`.
 */
export class ForwardInvalidCallError extends ForwardError {
  constructor(message: string) {
    super("FORWARD_INVALID_CALL", message);
  }
}

/**
 * `bufferPath` cannot hold a disk buffer: it is a file, or a directory this process cannot create, read or write.
 * Thrown by the constructor; the message names `bufferPath` and the system error is the `cause`. Code
 * `FORWARD_BUFFER_PATH`.
 */
export class ForwardBufferPathError extends ForwardError {
  /** The directory, as given. */
  readonly bufferPath: string;
  constructor(bufferPath: string, message: string, cause?: unknown) {
    super("FORWARD_BUFFER_PATH", message, { cause });
    this.bufferPath = bufferPath;
  }
}

/**
 * Another sink (in this process or another, `pid`) holds `bufferPath`: two sinks on one directory would send each
 * other's frames. Thrown by the constructor. A lock left by a process that no longer runs is taken over instead.
 * Code `FORWARD_BUFFER_LOCKED`.
 */
export class ForwardBufferLockedError extends ForwardError {
  /** The pid written in the lock file. */
  readonly pid: number;
  constructor(message: string, pid: number) {
    super("FORWARD_BUFFER_LOCKED", message);
    this.pid = pid;
  }
}

/**
 * A file in `bufferPath` cannot be replayed as it is: a format version this release does not know (refused, never
 * misread), or frames written with a different `requireAck` (they carry chunk ids, or lack them). Thrown by the
 * constructor; nothing is deleted. Code `FORWARD_BUFFER_FORMAT`.
 */
export class ForwardBufferFormatError extends ForwardError {
  /** The file. */
  readonly file: string;
  constructor(message: string, file: string) {
    super("FORWARD_BUFFER_FORMAT", message);
    this.file = file;
  }
}

/**
 * Writing the disk buffer failed (`ENOSPC`, `EIO`, ...; the system error is the `cause`): new frames stay in memory,
 * under `bufferLimitBytes`, until a write succeeds again (tried every second). Reported once per failure by the
 * `bufferError` event, never thrown. Code `FORWARD_BUFFER_WRITE`.
 */
export class ForwardBufferWriteError extends ForwardError {
  constructor(message: string, cause?: unknown) {
    super("FORWARD_BUFFER_WRITE", message, { cause });
  }
}

/**
 * The TLS files of `tlsFiles()` cannot be used: unreadable, not PEM, or a certificate and key that do not match
 * (read half-way through a renewal). Before any good read this fails the connection; after one, the files that
 * worked stay in use and this goes to `onError`. Code `FORWARD_TLS_FILES`.
 */
export class ForwardTlsFilesError extends ForwardError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("FORWARD_TLS_FILES", message, options);
  }
}

/**
 * A server's host name or SRV name could not be resolved (no such name, no answer, DNS server unreachable). The
 * addresses found last stay in use; the lookup is tried again on schedule. Code `FORWARD_RESOLVE_FAILED`.
 */
export class ForwardResolveError extends ForwardError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("FORWARD_RESOLVE_FAILED", message, options);
  }
}

/**
 * Acks off: the server did not acknowledge a heartbeat within `heartbeat.timeoutMs` — frozen (SIGSTOP, a stuck
 * process), or the network is cut while the connection looks open. Its frames go to the other servers. Code
 * `FORWARD_HEARTBEAT_TIMEOUT`.
 */
export class ForwardHeartbeatTimeoutError extends ForwardError {
  constructor(message: string) {
    super("FORWARD_HEARTBEAT_TIMEOUT", message);
  }
}
