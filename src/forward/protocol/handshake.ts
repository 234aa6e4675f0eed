import { createHash, randomBytes } from "node:crypto";
import { ForwardAuthError, ForwardProtocolError } from "../errors.js";
import { writeHeader, writeStr } from "./msgpack.js";
import type { ServerValue } from "./reply-decoder.js";

/** What the server announced in HELO. Nonce and auth salt are raw bytes, whatever msgpack type carried them. */
export interface Helo {
  nonce: Buffer;
  /** User-auth salt; empty when the server does not ask for username/password. */
  auth: Buffer;
  /** False when the server closes the connection after each frame (Fluentd's `deny_keepalive`). */
  keepalive: boolean;
}

/** The credentials the client answers a HELO with. */
export interface Credentials {
  selfHostname: string;
  sharedKey: string;
  username?: string | undefined;
  password?: string | undefined;
}

/** The PING to send, and what is needed to verify the PONG. */
export interface Ping {
  frame: Buffer;
  salt: string;
}

const HELO = Buffer.from("HELO");
const PONG = Buffer.from("PONG");

/** True when `value` is a HELO frame. */
export function isHelo(value: ServerValue): value is ServerValue[] {
  return Array.isArray(value) && value.length === 2 && Buffer.isBuffer(value[0]) && value[0].equals(HELO);
}

/** True when `value` is a PONG frame. */
export function isPong(value: ServerValue): value is ServerValue[] {
  return Array.isArray(value) && value.length === 5 && Buffer.isBuffer(value[0]) && value[0].equals(PONG);
}

/** Reads `["HELO", {nonce, auth, keepalive}]`; throws ForwardProtocolError when malformed. */
export function parseHelo(value: ServerValue[]): Helo {
  const options = value[1];
  if (!(options instanceof Map)) throw new ForwardProtocolError("HELO without an option map");
  const nonce = options.get("nonce");
  if (!Buffer.isBuffer(nonce)) throw new ForwardProtocolError("HELO without a nonce");
  const auth = options.get("auth");
  const keepalive = options.get("keepalive");
  return {
    nonce,
    auth: Buffer.isBuffer(auth) ? auth : Buffer.alloc(0),
    keepalive: keepalive !== false,
  };
}

function sha512hex(...parts: (string | Buffer)[]): string {
  const hash = createHash("sha512");
  for (const p of parts) hash.update(p);
  return hash.digest("hex");
}

/**
 * Builds `["PING", self_hostname, shared_key_salt, hex(sha512(salt + self_hostname + nonce + shared_key)),
 * username, hex(sha512(auth_salt + username + password))]`, every element a msgpack str.
 * The salt is the hex of 16 random bytes, so it is valid UTF-8 for every server.
 */
export function buildPing(
  helo: Helo,
  credentials: Credentials,
  salt = randomBytes(16).toString("hex"),
): Ping {
  const { selfHostname, sharedKey } = credentials;
  const digest = sha512hex(salt, selfHostname, helo.nonce, sharedKey);
  let username = "";
  let passwordDigest = "";
  if (helo.auth.length > 0) {
    username = credentials.username ?? "";
    passwordDigest = sha512hex(helo.auth, username, credentials.password ?? "");
  }
  const parts = ["PING", selfHostname, salt, digest, username, passwordDigest].map((s) =>
    Buffer.from(s, "utf8"),
  );
  const frame = Buffer.allocUnsafe(1 + parts.reduce((n, p) => n + 5 + p.length, 0));
  let pos = writeHeader(frame, 0, "array", 6);
  for (const p of parts) pos = writeStr(frame, pos, p);
  return { frame: frame.subarray(0, pos), salt };
}

/**
 * Checks `["PONG", ok, reason, server_hostname, digest]`: throws ForwardAuthError with the server's reason
 * on refusal, or when the digest shows the server does not know the shared key.
 */
export function checkPong(value: ServerValue[], helo: Helo, credentials: Credentials, salt: string): string {
  const [, ok, reason, hostname, digest] = value;
  const reasonText = Buffer.isBuffer(reason) ? reason.toString("utf8") : "";
  if (ok !== true) {
    throw new ForwardAuthError(
      `server refused authentication: ${reasonText || "no reason given"}`,
      reasonText,
    );
  }
  if (!Buffer.isBuffer(hostname) || !Buffer.isBuffer(digest)) {
    throw new ForwardProtocolError("PONG without a server hostname or digest");
  }
  const serverHostname = hostname.toString("utf8");
  const expected = sha512hex(salt, serverHostname, helo.nonce, credentials.sharedKey);
  if (digest.toString("latin1") !== expected) {
    const why = "shared key mismatch (the server's PONG digest does not match our shared key)";
    throw new ForwardAuthError(`server could not be verified: ${why}`, why);
  }
  return serverHostname;
}
