import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { ForwardMode, ForwardSinkOptions } from "../../../src/index.js";
import { freePort } from "../../helpers/forward-receiver.js";
import { generateForwardCerts, type ForwardCerts } from "../../helpers/forward-certs.js";
import { MODES, assertCellArrived, cellEvents, runCell, type CellRun, type ServerKind } from "./cells.js";
import { settledOutput, type FluentBitOptions, type FluentdOptions, type Peer } from "./peers.js";

/** How the sink reaches the server: plain TCP, TLS (server verified), mutual TLS (client certificate too), unix socket. */
export type Transport = "tcp" | "tls" | "mtls" | "unix";
/** The server's `<security>`: none, a shared key, or a shared key plus user and password. */
export type Auth = "none" | "key" | "key+user";

/** Credentials the matrix peers are started with. */
export const SHARED_KEY = "interop shared key";
export const USER = { username: "agent", password: "s3cret pass" };

/** Certificates written to files (the peers read PEM files), in a temporary directory. */
export interface CertFiles extends ForwardCerts {
  dir: string;
  caFile: string;
  serverCertFile: string;
  serverKeyFile: string;
}

/** Generates a CA, a server certificate for 127.0.0.1 and a client certificate, as strings and as files. */
export function certFiles(): CertFiles {
  const certs = generateForwardCerts();
  const dir = mkdtempSync(path.join(tmpdir(), "uwsgi-forward-interop-certs-"));
  const file = (name: string, pem: string) => {
    const p = path.join(dir, name);
    writeFileSync(p, pem);
    return p;
  };
  return {
    ...certs,
    dir,
    caFile: file("ca.pem", certs.ca),
    serverCertFile: file("server.pem", certs.serverCert),
    serverKeyFile: file("server-key.pem", certs.serverKey),
  };
}

/** One running peer of the matrix: an auth × transport combination that every mode × acks cell is sent to. */
export interface MatrixPeer {
  auth: Auth;
  transport: Transport;
  /** Peer options for this combination (port, unix path and workdir are filled in by the suite). */
  peerOptions: (certs: CertFiles) => Partial<FluentdOptions & FluentBitOptions>;
  /** Acks on this transport: "tested", or "never" (the server never acks: the acks-on cells check the sink says so). */
  acks?: "tested" | "never";
  /** The modes this server takes on this transport (default all four); docs/interop.md says why one is left out. */
  modes?: readonly ForwardMode[];
}

/** The peer flags for an auth level. */
export function authPeerOptions(auth: Auth): Partial<FluentdOptions> {
  if (auth === "none") return {};
  if (auth === "key") return { sharedKey: SHARED_KEY };
  return { sharedKey: SHARED_KEY, users: [USER] };
}

/** The peer flags for a TCP-based transport. */
export function transportPeerOptions(transport: Transport, certs: CertFiles): Partial<FluentdOptions> {
  if (transport === "tls") return { tlsCert: certs.serverCertFile, tlsKey: certs.serverKeyFile };
  if (transport === "mtls") {
    return { tlsCert: certs.serverCertFile, tlsKey: certs.serverKeyFile, clientCa: certs.caFile };
  }
  return {};
}

/** Sink options matching a peer: where to connect, how (TLS with the test CA, client certificate), which credentials. */
export function sinkOptions(
  auth: Auth,
  transport: Transport,
  where: { port: number; unix?: string },
  certs: CertFiles,
): ForwardSinkOptions {
  const options: ForwardSinkOptions =
    transport === "unix" ? { path: where.unix! } : { host: "127.0.0.1", port: where.port };
  if (transport === "tls") options.tls = { ca: certs.ca };
  if (transport === "mtls") options.tls = { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey };
  if (auth !== "none") options.sharedKey = SHARED_KEY;
  if (auth === "key+user") Object.assign(options, USER);
  return options;
}

/**
 * Declares the matrix for one server: for every auth × transport combination, one peer is started, the 8 cells
 * (4 modes × acks on/off) are sent to it, each under its own tag, and each cell is a test reading the server's
 * events file.
 */
export function describeMatrix(
  kind: ServerKind,
  start: (o: FluentdOptions & FluentBitOptions) => Promise<Peer>,
  peers: MatrixPeer[],
  skip: false | string,
): void {
  let certs: CertFiles;
  before(() => {
    if (!skip) certs = certFiles();
  });
  after(() => {
    if (certs) rmSync(certs.dir, { recursive: true, force: true });
  });
  for (const p of peers) {
    describe(`${kind}, ${p.auth}, ${p.transport}`, { skip }, () => {
      let peer: Peer;
      let workdir: string;
      const runs = new Map<string, CellRun>();
      let events: Record<string, unknown>[] = [];
      const tag = (mode: string, acks: boolean) =>
        `interop.${p.auth.replace("+", "_")}.${p.transport}.${mode}.${acks ? "ack" : "noack"}`;
      before(async () => {
        workdir = mkdtempSync(path.join(tmpdir(), `uwsgi-forward-interop-${kind}-`));
        const port = await freePort();
        const unix = p.transport === "unix" ? path.join(workdir, "forward.sock") : undefined;
        peer = await start({ port, workdir, ...(unix ? { unix } : {}), ...p.peerOptions(certs) });
        const options = sinkOptions(p.auth, p.transport, { port, ...(unix ? { unix } : {}) }, certs);
        const cells = (p.modes ?? MODES).flatMap((mode) =>
          [false, true].map((acks) =>
            acks && p.acks === "never"
              ? runCell(tag(mode, acks), { ...options, mode, requireAck: true, ackTimeoutMs: 1000 }, 3000)
              : runCell(tag(mode, acks), { ...options, mode, requireAck: acks }),
          ),
        );
        for (const run of await Promise.all(cells)) runs.set(run.tag, run);
        const expected = cells.length * cellEvents().length;
        events = await settledOutput([peer.out], expected, kind === "fluentd" ? 1000 : 2500);
      });
      after(async () => {
        await peer?.stop();
        rmSync(workdir, { recursive: true, force: true });
      });
      for (const mode of p.modes ?? MODES) {
        for (const acks of [false, true]) {
          const never = acks && p.acks === "never";
          const name = never
            ? `${mode}, acks on: the server never acks, so one FORWARD_ACK_UNSUPPORTED and no re-send`
            : `${mode}, acks ${acks ? "on" : "off"}: every event arrives once with its tag, record and time`;
          test(name, () => {
            const run = runs.get(tag(mode, acks))!;
            if (!never) assert.deepEqual(run.errors, []);
            assertCellArrived(events, run.tag, kind);
            if (never) {
              assert.equal(run.errors.length, 1, run.errors.join("\n"));
              assert.match(run.errors[0]!, /^FORWARD_ACK_UNSUPPORTED: /);
              assert.ok(run.undelivered > 0, "the unacknowledged events are reported undelivered");
            } else {
              assert.deepEqual(run.errors, []);
              assert.equal(run.undelivered, 0);
              assert.equal(run.retried, 0);
            }
          });
        }
      }
    });
  }
}
