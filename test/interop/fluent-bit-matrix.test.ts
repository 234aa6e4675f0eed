import { describe } from "node:test";
import {
  describeMatrix,
  authPeerOptions,
  transportPeerOptions,
  type Auth,
  type MatrixPeer,
} from "./helpers/matrix.js";
import { skipWithoutPeers, startFluentBit } from "./helpers/peers.js";

const AUTHS: Auth[] = ["none", "key", "key+user"];

/**
 * Fluent Bit 5.1.1: every auth (`shared_key`, `security.users`) over TCP, TLS, mutual TLS (`tls.verify on` with the
 * client CA) and its unix socket (`unix_path`, which keeps the handshake and the acks).
 */
const PEERS: MatrixPeer[] = AUTHS.flatMap((auth) =>
  (["tcp", "tls", "mtls", "unix"] as const).map((transport): MatrixPeer => ({
    auth,
    transport,
    peerOptions: (certs) => ({ ...authPeerOptions(auth), ...transportPeerOptions(transport, certs) }),
  })),
);

describe("the Forward matrix on a real Fluent Bit 5.1.1", { skip: skipWithoutPeers() }, () => {
  describeMatrix("fluent-bit", startFluentBit, PEERS, skipWithoutPeers());
});
