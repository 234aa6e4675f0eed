import { CliUsageError } from "./errors.js";

/** One `--forward`/`--forward-unix` value, parsed. */
export interface ForwardAddress {
  host?: string;
  port?: number;
  path?: string;
  weight?: number;
  standby?: boolean;
}

/** What --forward accepts, for errors and help. */
export const FORWARD_SYNTAX =
  "HOST:PORT with optional ,weight=N (1-1000) and ,standby, e.g. 10.0.0.5:24224,weight=60";
/** What --forward-unix accepts. */
export const FORWARD_UNIX_SYNTAX = "an absolute socket PATH with optional ,weight=N (1-1000) and ,standby";

/**
 * Parses `host:port[,weight=N][,standby]` (IPv6 in brackets: `[::1]:24224`; the port defaults to 24224)
 * or, for unix sockets, `/path[,weight=N][,standby]`.
 */
export function parseForwardAddress(text: string, where: string, unix: boolean): ForwardAddress {
  const [address = "", ...params] = text.split(",");
  const fail = (why: string): never => {
    throw new CliUsageError(
      `${where}: ${why} in ${JSON.stringify(text)}; expected ${unix ? FORWARD_UNIX_SYNTAX : FORWARD_SYNTAX}`,
    );
  };
  const result: ForwardAddress = {};
  if (unix) {
    if (!address.startsWith("/")) fail("not an absolute path");
    result.path = address;
  } else {
    const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]+))(?::(\d+))?$/.exec(address);
    if (!match) fail("not HOST:PORT");
    const host = (match?.[1] ?? match?.[2]) as string;
    const port = match?.[3] === undefined ? 24224 : Number(match[3]);
    if (!Number.isInteger(port) || port < 1 || port > 65535) fail("port out of range 1-65535");
    result.host = host;
    result.port = port;
  }
  for (const param of params) {
    if (param === "standby") {
      result.standby = true;
    } else if (param.startsWith("weight=")) {
      const weight = Number(param.slice("weight=".length));
      if (!Number.isInteger(weight) || weight < 1 || weight > 1000)
        fail("weight must be an integer from 1 to 1000");
      result.weight = weight;
    } else {
      fail(`unknown parameter ${JSON.stringify(param)}`);
    }
  }
  return result;
}
