import { request } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import { Packr, Unpackr } from "msgpackr";
import {
  BOOLEAN_ANSWER,
  describeAnswer,
  EVENTS_ANSWER,
  FIELDS_ANSWER,
  QUERIES_ANSWER,
  TARGETS_ANSWER,
  type AnswerShape,
  type NorikraEvent,
  type NorikraField,
  type NorikraQuery,
  type NorikraTarget,
} from "./answers.js";
import { cut } from "../config/quote.js";
import { NorikraProtocolError, NorikraRemoteError, NorikraUnreachableError } from "./errors.js";

export type { NorikraEvent, NorikraField, NorikraQuery, NorikraTarget } from "./answers.js";

const REQUEST = 0;
const RESPONSE = 1;
const packr = new Packr({ useRecords: false, variableMapSize: true });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });

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

/** Largest answer read from Norikra: 8 MiB (its largest legitimate answers, query lists and result rows, are KiBs). */
export const NORIKRA_MAX_ANSWER_BYTES = 8 * 1024 * 1024;

/** How a NorikraRpc calls. */
export interface NorikraRpcOptions {
  /** Deadline of one call, from connecting to the answer's last byte. Default 10 000 ms. */
  readonly timeoutMs?: number;
  /** Wait before the first repeat of a call Norikra failed with a ServerError (doubled each time). Default 200 ms. */
  readonly retryDelayMs?: number;
  /** Largest answer read; a larger one is a NorikraProtocolError. Default NORIKRA_MAX_ANSWER_BYTES. */
  readonly maxAnswerBytes?: number;
  /** Aborts the call in flight (and the wait before a repeat): it rejects with the signal's reason. */
  readonly signal?: AbortSignal;
}

/**
 * Norikra's RPC as norikra-client speaks it: msgpack-RPC over HTTP (`POST /`, body
 * `[0, msgid, method, params]`, answer `[1, msgid, error, result]`). One request per call, no keep-alive. Every
 * answer is checked against the shape Norikra gives it (a wrong one is a NorikraProtocolError), bounded in size,
 * and awaited no longer than `timeoutMs` in all.
 */
export class NorikraRpc {
  #msgid = 0;
  readonly address: string;
  readonly #timeoutMs: number;
  readonly #retryDelayMs: number;
  readonly #maxAnswerBytes: number;
  readonly #signal: AbortSignal | undefined;

  constructor(
    readonly host: string,
    readonly port: number,
    options: NorikraRpcOptions = {},
  ) {
    this.address = `${host.includes(":") ? `[${host}]` : host}:${port}`;
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#retryDelayMs = options.retryDelayMs ?? 200;
    this.#maxAnswerBytes = options.maxAnswerBytes ?? NORIKRA_MAX_ANSWER_BYTES;
    this.#signal = options.signal;
  }

  targets(): Promise<NorikraTarget[]> {
    return this.#typed("targets", [], TARGETS_ANSWER);
  }

  /** Opens `target` with `fields` (name → type); resolves false when it was already open (types unchanged). */
  open(target: string, fields: Record<string, string> | null, autoField = true): Promise<boolean> {
    return this.#typed("open", [target, fields, autoField], BOOLEAN_ANSWER);
  }

  /** Closes `target` and deregisters every query on it. */
  close(target: string): Promise<boolean> {
    return this.#typed("close", [target], BOOLEAN_ANSWER);
  }

  fields(target: string): Promise<NorikraField[]> {
    return this.#typed("fields", [target], FIELDS_ANSWER);
  }

  /** Declares an optional field of `target`; resolves false when the field is already known. */
  reserve(target: string, field: string, type: string): Promise<boolean> {
    return this.#typed("reserve", [target, field, type], BOOLEAN_ANSWER);
  }

  queries(): Promise<NorikraQuery[]> {
    return this.#typed("queries", [], QUERIES_ANSWER);
  }

  register(name: string, group: string | null, expression: string): Promise<boolean> {
    return this.#typed("register", [name, group, expression], BOOLEAN_ANSWER);
  }

  deregister(name: string): Promise<boolean> {
    return this.#typed("deregister", [name], BOOLEAN_ANSWER);
  }

  /** Sends events into `target` (as fluent-plugin-norikra does). */
  send(target: string, events: readonly Record<string, unknown>[]): Promise<boolean> {
    return this.#typed("send", [target, events], BOOLEAN_ANSWER);
  }

  /** Takes (and removes) the result rows collected so far for query `name`. */
  event(name: string): Promise<NorikraEvent[]> {
    return this.#typed("event", [name], EVENTS_ANSWER);
  }

  async #typed<T>(method: string, params: readonly unknown[], shape: AnswerShape<T>): Promise<T> {
    const answer = await this.call(method, params);
    if (!shape.test(answer)) {
      throw new NorikraProtocolError(
        this.address,
        `an answer to ${method} that is not ${shape.description}: ${describeAnswer(answer)}`,
      );
    }
    return answer;
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
        await sleep(this.#retryDelayMs * 2 ** attempt, undefined, { signal: this.#signal });
      }
    }
  }

  #callOnce(method: string, params: readonly unknown[]): Promise<unknown> {
    const msgid = this.#msgid;
    this.#msgid = (this.#msgid + 1) % 2 ** 31;
    const body = packr.pack([REQUEST, msgid, method, params]);
    const signal = this.#signal;
    if (signal?.aborted) return Promise.reject(signal.reason as Error);
    return new Promise((resolve, reject) => {
      let settled = false;
      const settle = (err: Error | undefined, result?: unknown): void => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        signal?.removeEventListener("abort", onAbort);
        if (err === undefined) resolve(result);
        else {
          reject(err);
          req.destroy();
        }
      };
      const onAbort = (): void => settle(signal?.reason as Error);
      // The deadline of the whole call (connect, request, answer), not of a silence: a drip is cut too.
      const deadline = setTimeout(
        () =>
          settle(
            new NorikraUnreachableError(
              this.address,
              `no complete answer to ${method} within ${this.#timeoutMs} ms`,
            ),
          ),
        this.#timeoutMs,
      );
      const protocol = (what: string): void => settle(new NorikraProtocolError(this.address, what));
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
          const tooLarge = `an answer to ${method} larger than ${this.#maxAnswerBytes} bytes`;
          if (Number(res.headers["content-length"]) > this.#maxAnswerBytes) return protocol(tooLarge);
          const chunks: Buffer[] = [];
          let length = 0;
          res.on("data", (chunk: Buffer) => {
            length += chunk.length;
            if (length > this.#maxAnswerBytes) protocol(tooLarge);
            else chunks.push(chunk);
          });
          res.on("error", (err) => settle(new NorikraUnreachableError(this.address, err.message, err)));
          res.on("end", () => {
            if (res.statusCode !== 200) return protocol(`HTTP ${res.statusCode ?? "?"} to ${method}`);
            let message: unknown;
            try {
              message = unpackr.unpack(Buffer.concat(chunks, length));
            } catch {
              return protocol(`an answer to ${method} that is not msgpack`);
            }
            if (!Array.isArray(message) || message[0] !== RESPONSE || message.length !== 4) {
              return protocol(`an answer to ${method} that is not an RPC response`);
            }
            const [, answerId, error, result] = message as [number, unknown, unknown, unknown];
            if (answerId !== msgid) return protocol(`an answer to ${method} with another call's id`);
            if (error === null || error === undefined) return settle(undefined, result);
            if (typeof error !== "string") {
              return protocol(`an error answer to ${method} whose class is not a string`);
            }
            const text = typeof result === "string" ? result : describeAnswer(result);
            settle(new NorikraRemoteError(method, cut(error), cut(text)));
          });
        },
      );
      signal?.addEventListener("abort", onAbort, { once: true });
      req.on("error", (err: NodeJS.ErrnoException) => {
        // Node's HTTP parser (HPE_*): bytes came back, but not HTTP.
        if (err.code?.startsWith("HPE_")) protocol(`an answer to ${method} that is not HTTP (${err.code})`);
        else settle(new NorikraUnreachableError(this.address, err.code ?? err.message, err));
      });
      req.end(body);
    });
  }
}
