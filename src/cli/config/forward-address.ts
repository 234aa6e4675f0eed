import { CliUsageError } from "../errors.js";
import { quote } from "./quote.js";

/** One `--forward`/`--forward-unix` value, parsed. */
export interface ForwardAddress {
  host?: string;
  port?: number;
  path?: string;
  weight?: number;
  standby?: boolean;
}

/** What --forward accepts, for errors and help. */
export const FORWARD_SYNTAX = "HOST:PORT with optional ,weight=N and ,standby, e.g. 10.0.0.5:24224,weight=60";
/** What --forward-unix accepts. */
export const FORWARD_UNIX_SYNTAX = "an absolute socket PATH with optional ,weight=N and ,standby";

/**
 * Parses `host:port[,weight=N][,standby]` (IPv6 in brackets: `[::1]:24224`; the port defaults to 24224)
 * or, for unix sockets, `/path[,weight=N][,standby]`. Only the syntax is checked here: the port's and the
 * weight's ranges are ForwardSink's to check.
 */
export function parseForwardAddress(text: string, where: string, unix: boolean): ForwardAddress {
  const [address = "", ...params] = text.split(",");
  const fail = (why: string): never => {
    throw new CliUsageError(
      `${where}: ${why} in ${quote(text)}; expected ${unix ? FORWARD_UNIX_SYNTAX : FORWARD_SYNTAX}`,
    );
  };
  const result: ForwardAddress = {};
  if (unix) {
    if (!address.startsWith("/")) fail("not an absolute path");
    result.path = address;
  } else {
    // A host name (letters, digits, `.`, `-`, `_`; 253 characters at most, DNS's limit) or an address.
    const match = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9_.-]{1,253}))(?::(\d+))?$/.exec(address);
    if (!match) fail("not HOST:PORT");
    const host = (match?.[1] ?? match?.[2]) as string;
    result.host = host;
    result.port = match?.[3] === undefined ? 24224 : Number(match[3]);
  }
  for (const param of params) {
    if (param === "standby") {
      result.standby = true;
    } else if (param.startsWith("weight=")) {
      const text = param.slice("weight=".length);
      if (!/^\d+$/.test(text)) fail("weight=N needs a whole number");
      result.weight = Number(text);
    } else {
      fail(`unknown parameter ${quote(param)}`);
    }
  }
  return result;
}
