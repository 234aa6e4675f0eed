import { request } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import { Packr, Unpackr } from "msgpackr";
import { NorikraProtocolError, NorikraRemoteError, NorikraUnreachableError } from "./errors.js";

const REQUEST = 0;
const RESPONSE = 1;
const packr = new Packr({ useRecords: false, variableMapSize: true });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });

/** A Norikra target as `targets` lists it. */
export interface NorikraTarget {
  readonly name: string;
  readonly auto_field: boolean;
}

/** A field of a target as `fields` lists it; `type` is string, boolean, integer, float, hash or array. */
export interface NorikraField {
  readonly name: string;
  readonly type: string;
  readonly optional: boolean;
}

/** A registered query as `queries` lists it. */
export interface NorikraQuery {
  readonly name: string;
  readonly group: string | null;
  readonly expression: string;
  readonly targets: readonly string[];
  readonly suspended: boolean;
}

/** One result row of a query: Norikra's time (epoch seconds) and the selected values. */
export type NorikraEvent = [number, Record<string, unknown>];

/** Norikra's error class for an exception inside Norikra, as opposed to a bad call (`Norikra::RPC::ClientError`). */
const SERVER_ERROR = "Norikra::RPC::ServerError";
/**
 * Calls that change nothing when made again, and so are made again when Norikra fails them with a ServerError:
 * `reserve` while events arrive on the same target can hit a race inside Norikra ("RuntimeError, can't add a new
 * key into hash during iteration", Norikra 1.5.1).
 */
const REPEATABLE: ReadonlySet<string> = new Set(["targets", "fields", "queries", "open", "reserve"]);
/** Attempts after the first; they wait `retryDelayMs`, then twice that, then four times. */
const SERVER_ERROR_RETRIES = 3;

/**
 * Norikra's RPC as norikra-client speaks it: msgpack-RPC over HTTP (`POST /`, body
 * `[0, msgid, method, params]`, answer `[1, msgid, error, result]`). One request per call, no keep-alive.
 */
export class NorikraRpc {
  #msgid = 0;
  readonly address: string;

  constructor(
    readonly host: string,
    readonly port: number,
    private readonly timeoutMs = 10_000,
    private readonly retryDelayMs = 200,
  ) {
    this.address = `${host.includes(":") ? `[${host}]` : host}:${port}`;
  }

  targets(): Promise<NorikraTarget[]> {
    return this.call("targets", []) as Promise<NorikraTarget[]>;
  }

  /** Opens `target` with `fields` (name → type); resolves false when it was already open (types unchanged). */
  open(target: string, fields: Record<string, string> | null, autoField = true): Promise<boolean> {
    return this.call("open", [target, fields, autoField]) as Promise<boolean>;
  }

  /** Closes `target` and deregisters every query on it. */
  close(target: string): Promise<boolean> {
    return this.call("close", [target]) as Promise<boolean>;
  }

  fields(target: string): Promise<NorikraField[]> {
    return this.call("fields", [target]) as Promise<NorikraField[]>;
  }

  /** Declares an optional field of `target`; resolves false when the field is already known. */
  reserve(target: string, field: string, type: string): Promise<boolean> {
    return this.call("reserve", [target, field, type]) as Promise<boolean>;
  }

  queries(): Promise<NorikraQuery[]> {
    return this.call("queries", []) as Promise<NorikraQuery[]>;
  }

  register(name: string, group: string | null, expression: string): Promise<boolean> {
    return this.call("register", [name, group, expression]) as Promise<boolean>;
  }

  deregister(name: string): Promise<boolean> {
    return this.call("deregister", [name]) as Promise<boolean>;
  }

  /** Sends events into `target` (as fluent-plugin-norikra does). */
  send(target: string, events: readonly Record<string, unknown>[]): Promise<unknown> {
    return this.call("send", [target, events]);
  }

  /** Takes (and removes) the result rows collected so far for query `name`. */
  event(name: string): Promise<NorikraEvent[]> {
    return this.call("event", [name]) as Promise<NorikraEvent[]>;
  }

  /**
   * Calls an RPC method; rejects with NorikraUnreachableError, NorikraProtocolError or NorikraRemoteError. A
   * repeatable call that Norikra fails with a ServerError is made again, up to SERVER_ERROR_RETRIES times.
   */
  async call(method: string, params: readonly unknown[]): Promise<unknown> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.#callOnce(method, params);
      } catch (err) {
        const repeat =
          err instanceof NorikraRemoteError &&
          err.remoteClass === SERVER_ERROR &&
          REPEATABLE.has(method) &&
          attempt < SERVER_ERROR_RETRIES;
        if (!repeat) throw err;
        await sleep(this.retryDelayMs * 2 ** attempt);
      }
    }
  }

  #callOnce(method: string, params: readonly unknown[]): Promise<unknown> {
    const msgid = this.#msgid;
    this.#msgid = (this.#msgid + 1) % 2 ** 31;
    const body = packr.pack([REQUEST, msgid, method, params]);
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host: this.host,
          port: this.port,
          method: "POST",
          path: "/",
          headers: { "content-type": "application/x-msgpack", "content-length": body.length },
          agent: false,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (chunk: Buffer) => chunks.push(chunk));
          res.on("error", (err) => reject(new NorikraUnreachableError(this.address, err.message, err)));
          res.on("end", () => {
            if (res.statusCode !== 200) {
              reject(new NorikraProtocolError(this.address, `HTTP ${res.statusCode ?? "?"} to ${method}`));
              return;
            }
            let message: unknown;
            try {
              message = unpackr.unpack(Buffer.concat(chunks));
            } catch {
              reject(new NorikraProtocolError(this.address, `an answer to ${method} that is not msgpack`));
              return;
            }
            if (!Array.isArray(message) || message[0] !== RESPONSE || message.length !== 4) {
              reject(
                new NorikraProtocolError(this.address, `an answer to ${method} that is not an RPC response`),
              );
              return;
            }
            const [, , error, result] = message as [number, number, unknown, unknown];
            if (error === null || error === undefined) resolve(result);
            else reject(new NorikraRemoteError(method, String(error), String(result)));
          });
        },
      );
      req.setTimeout(this.timeoutMs, () =>
        req.destroy(
          new NorikraUnreachableError(this.address, `no answer to ${method} within ${this.timeoutMs} ms`),
        ),
      );
      req.on("error", (err: NodeJS.ErrnoException) => {
        reject(
          err instanceof NorikraUnreachableError
            ? err
            : new NorikraUnreachableError(this.address, err.code ?? err.message, err),
        );
      });
      req.end(body);
    });
  }
}
