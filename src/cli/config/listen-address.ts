import { quote } from "./quote.js";
import { CliUsageError } from "../errors.js";

/** Where the `--http` endpoint listens. */
export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

/** What --http accepts, for errors and help. */
export const LISTEN_SYNTAX =
  "HOST:PORT with a port from 0 to 65535, e.g. 127.0.0.1:9191, 0.0.0.0:9191 or [::]:9191";

/**
 * Parses `--http HOST:PORT` (IPv6 in brackets: `[::1]:9191`). Both parts are required: an endpoint that listens on
 * every interface must say so (`0.0.0.0`, `[::]`). Port 0 asks the system for a free port (logged at start).
 */
export function parseListenAddress(text: string, where: string): ListenAddress {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(text);
  const port = Number(match?.[3]);
  if (!match || port > 65535) {
    throw new CliUsageError(`${where}: expected ${LISTEN_SYNTAX}, got ${quote(text)}`);
  }
  return { host: (match[1] ?? match[2]) as string, port };
}

/** `host:port` as a URL authority (IPv6 in brackets). */
export function formatListenAddress(address: ListenAddress): string {
  return `${address.host.includes(":") ? `[${address.host}]` : address.host}:${address.port}`;
}
