import { describe } from "node:test";
import {
  describeMatrix,
  authPeerOptions,
  transportPeerOptions,
  type Auth,
  type MatrixPeer,
} from "./helpers/matrix.js";
import { skipWithoutPeers, startFluentd } from "./helpers/peers.js";

const AUTHS: Auth[] = ["none", "key", "key+user"];

/**
 * Fluentd 1.15.3: every auth over TCP, TLS and mutual TLS. in_unix has no handshake, never acks, and ignores
 * `compressed` (it decodes the gzip bytes as msgpack and loses the events), so it gets three modes.
 */
const PEERS: MatrixPeer[] = [
  ...AUTHS.flatMap((auth) =>
    (["tcp", "tls", "mtls"] as const).map((transport): MatrixPeer => ({
      auth,
      transport,
      peerOptions: (certs) => ({ ...authPeerOptions(auth), ...transportPeerOptions(transport, certs) }),
    })),
  ),
  {
    auth: "none",
    transport: "unix",
    peerOptions: () => ({}),
    acks: "never",
    modes: ["Message", "Forward", "PackedForward"],
  },
];

describe("the Forward matrix on a real Fluentd 1.15.3", { skip: skipWithoutPeers() }, () => {
  describeMatrix("fluentd", startFluentd, PEERS, skipWithoutPeers());
});
