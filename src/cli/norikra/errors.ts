import { UwsgiForwardError } from "../../index.js";

/** Stable codes of the errors of `uwsgi-forward norikra` (docs/errors.md lists them). */
export const NorikraErrorCode = {
  UNREACHABLE: "NORIKRA_UNREACHABLE",
  PROTOCOL: "NORIKRA_PROTOCOL",
  REMOTE: "NORIKRA_REMOTE_ERROR",
  QUERY_REJECTED: "NORIKRA_QUERY_REJECTED",
  TYPE_MISMATCH: "NORIKRA_TYPE_MISMATCH",
  QUERIES_FILE: "NORIKRA_QUERIES_FILE",
} as const;

/** Nothing answered at the Norikra address (refused, timed out, unknown host). */
export class NorikraUnreachableError extends UwsgiForwardError {
  constructor(address: string, reason: string, cause?: unknown) {
    super(
      NorikraErrorCode.UNREACHABLE,
      `Norikra at ${address} is unreachable (${reason}): is it running, and is this its RPC port (26571 by default, not the web UI's 26578)?`,
      { cause },
    );
  }
}

/** Something answered, but not as Norikra's msgpack-RPC over HTTP does (a web UI port, a proxy, another server). */
export class NorikraProtocolError extends UwsgiForwardError {
  constructor(address: string, what: string) {
    super(
      NorikraErrorCode.PROTOCOL,
      `${address} does not answer like Norikra's RPC port (${what}): give --norikra the RPC port (26571 by default)`,
    );
  }
}

/** Norikra answered an RPC call with an error: its class (`Norikra::RPC::ClientError`, …) and message. */
export class NorikraRemoteError extends UwsgiForwardError {
  /** Norikra's error class, e.g. `Norikra::RPC::ClientError`. */
  readonly remoteClass: string;
  /** Norikra's own message. */
  readonly remoteMessage: string;

  constructor(method: string, remoteClass: string, remoteMessage: string) {
    super(NorikraErrorCode.REMOTE, `Norikra refused ${method}: ${remoteClass}: ${remoteMessage}`);
    this.remoteClass = remoteClass;
    this.remoteMessage = remoteMessage;
  }
}

/** Norikra rejected a query of the queries file (a syntax error, an unknown target name, …). */
export class NorikraQueryRejectedError extends UwsgiForwardError {
  readonly query: string;
  /** Norikra's own message. */
  readonly remoteMessage: string;

  constructor(query: string, source: string, remoteMessage: string, cause?: unknown) {
    super(NorikraErrorCode.QUERY_REJECTED, `Norikra rejected query ${query} (${source}): ${remoteMessage}`, {
      cause,
    });
    this.query = query;
    this.remoteMessage = remoteMessage;
  }
}

/** A target is already open in Norikra with a field of another type than the schema gives it. */
export class NorikraTypeMismatchError extends UwsgiForwardError {
  readonly target: string;
  /** `field: type in Norikra, type in the schema` for every mismatching field. */
  readonly mismatches: readonly string[];

  constructor(target: string, mismatches: readonly string[]) {
    super(
      NorikraErrorCode.TYPE_MISMATCH,
      `Norikra target ${target} is already open with other types: ${mismatches.join("; ")}. ` +
        `Queries on these fields would see wrong values. Close the target (norikra-client target close ${target}; ` +
        `this also removes its queries) or restart Norikra, then run uwsgi-forward norikra again before Fluentd sends.`,
    );
    this.target = target;
    this.mismatches = mismatches;
  }
}

/** The queries file cannot be read or split into named statements. */
export class NorikraQueriesFileError extends UwsgiForwardError {
  constructor(file: string, message: string, cause?: unknown) {
    super(NorikraErrorCode.QUERIES_FILE, `${file}: ${message}`, { cause });
  }
}
