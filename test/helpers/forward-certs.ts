import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

/** PEM material for TLS tests: a CA, a server certificate for 127.0.0.1/localhost, and a client certificate. */
export interface ForwardCerts {
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** A second, unrelated CA (to prove verification fails). */
  otherCa: string;
}

/** Generates fresh certificates with the `openssl` command line in a temporary directory (removed afterwards). */
export function generateForwardCerts(): ForwardCerts {
  const dir = mkdtempSync(path.join(tmpdir(), "forward-certs-"));
  const run = (...args: string[]) =>
    execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
  const read = (name: string) => readFileSync(path.join(dir, name), "utf8");
  try {
    const ca = (name: string) => {
      run(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        `/CN=${name}`,
        "-keyout",
        `${name}.key`,
        "-out",
        `${name}.crt`,
      );
    };
    ca("test-ca");
    ca("other-ca");
    const leaf = (name: string, ext: string) => {
      writeFileSync(path.join(dir, `${name}.ext`), ext);
      run(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        `/CN=${name}`,
        "-keyout",
        `${name}.key`,
        "-out",
        `${name}.csr`,
      );
      run(
        "x509",
        "-req",
        "-in",
        `${name}.csr`,
        "-CA",
        "test-ca.crt",
        "-CAkey",
        "test-ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        `${name}.ext`,
        "-out",
        `${name}.crt`,
      );
    };
    leaf("localhost", "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
    leaf("forward-client", "extendedKeyUsage=clientAuth\n");
    return {
      ca: read("test-ca.crt"),
      serverCert: read("localhost.crt"),
      serverKey: read("localhost.key"),
      clientCert: read("forward-client.crt"),
      clientKey: read("forward-client.key"),
      otherCa: read("other-ca.crt"),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A client's CA, certificate and key as files in `dir`, which `renew` rewrites in place. */
export interface ClientPemFiles {
  caFile: string;
  certFile: string;
  keyFile: string;
  /** Writes `certs` over the files in place, as cert-manager and ACME clients renew them (no signal). */
  renew(certs: Pick<ForwardCerts, "ca" | "clientCert" | "clientKey">): void;
}

/** Writes `certs`' CA, client certificate and key into `dir` (ca.pem, client.pem, client.key). */
export function clientPemFiles(
  dir: string,
  certs: Pick<ForwardCerts, "ca" | "clientCert" | "clientKey">,
): ClientPemFiles {
  const files: ClientPemFiles = {
    caFile: path.join(dir, "ca.pem"),
    certFile: path.join(dir, "client.pem"),
    keyFile: path.join(dir, "client.key"),
    renew: (c) => {
      writeFileSync(files.caFile, c.ca);
      writeFileSync(files.certFile, c.clientCert);
      writeFileSync(files.keyFile, c.clientKey);
    },
  };
  files.renew(certs);
  return files;
}
