import { X509Certificate } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import tls from "node:tls";
import { InvalidOptionError } from "../../errors.js";
import { assertObject } from "../../options.js";
import { ForwardTlsFilesError } from "../errors.js";

/** TLS client options read from PEM files, re-read whenever a file changes. */
export interface TlsFilesOptions extends Omit<tls.ConnectionOptions, "ca" | "cert" | "key"> {
  /** PEM file of the CA(s) that sign the server's certificate. Default: Node's bundled CAs. */
  caFile?: string;
  /** PEM file of the client certificate (mutual TLS), with `keyFile`. */
  certFile?: string;
  /** PEM file of the client key (mutual TLS), with `certFile`. */
  keyFile?: string;
  /**
   * Called once per bad change: files that cannot be used (unreadable, or a certificate and key that do not
   * match, read in the middle of a renewal). The files that worked stay in use until the next good change.
   */
  onError?: (error: ForwardTlsFilesError) => void;
}

/** What `tlsFiles()` returns: TLS options for the next connection, read again when a file changed. */
export interface TlsFilesSource {
  (): tls.ConnectionOptions;
  /** The file paths (what a config comparison should see, not the contents). */
  toJSON(): { caFile?: string; certFile?: string; keyFile?: string };
}

const FILE_KEYS = ["caFile", "certFile", "keyFile"] as const;
const TARGET = { caFile: "ca", certFile: "cert", keyFile: "key" } as const;

/**
 * TLS client options from PEM files, for `ForwardSink`'s `tls`: each new connection uses the files as they are
 * on disk then, so certificates that cert-manager or an ACME client renew in place are picked up without a
 * signal, without replacing the sink and without touching buffered events. A change is detected by each file's
 * size, mtime and inode (one `stat` per file per connection) and checked with `tls.createSecureContext` before
 * use. Throws `INVALID_OPTION`, and `FORWARD_TLS_FILES` when the files cannot be used at all.
 */
export function tlsFiles(options: TlsFilesOptions): TlsFilesSource {
  assertObject("tlsFiles(options)", options);
  const { onError, ...rest } = options;
  const paths: { caFile?: string; certFile?: string; keyFile?: string } = {};
  for (const key of FILE_KEYS) {
    const value = rest[key];
    if (value === undefined) continue;
    if (typeof value !== "string" || value === "") {
      throw new InvalidOptionError(key, `expected the path of a PEM file, got ${JSON.stringify(value)}`);
    }
    paths[key] = value;
    delete rest[key];
  }
  if ((paths.certFile === undefined) !== (paths.keyFile === undefined)) {
    throw new InvalidOptionError(paths.certFile ? "keyFile" : "certFile", "certFile and keyFile go together");
  }
  if (onError !== undefined && typeof onError !== "function") {
    throw new InvalidOptionError("onError", "expected a function called with a ForwardTlsFilesError");
  }
  let current: tls.ConnectionOptions | undefined;
  let seen = "";
  let reported = "";
  const source = (): tls.ConnectionOptions => {
    let signature: string;
    try {
      signature = fileSignature(paths);
    } catch (err) {
      const message = `cannot read the TLS files: ${(err as Error).message}`;
      return fallBack(new ForwardTlsFilesError(message, { cause: err }), message);
    }
    if (current !== undefined && signature === seen) return current;
    try {
      const files = readFiles(paths);
      if (files.ca !== undefined) checkCertificates(files.ca as Buffer, paths.caFile!);
      tls.createSecureContext(files);
      current = { ...rest, ...files };
      seen = signature;
      reported = "";
      return current;
    } catch (err) {
      const message = `the TLS files (${Object.values(paths).join(", ")}) cannot be used: ${(err as Error).message}`;
      return fallBack(new ForwardTlsFilesError(message, { cause: err }), signature);
    }
  };
  /** Keeps the files that worked, reporting each bad state (`which`) once; with none that worked, throws. */
  function fallBack(error: ForwardTlsFilesError, which: string): tls.ConnectionOptions {
    if (current === undefined) throw error;
    if (reported !== which) {
      reported = which;
      onError?.(error);
    }
    return current;
  }
  source.toJSON = () => ({ ...paths });
  source();
  return source;
}

function fileSignature(paths: Partial<Record<(typeof FILE_KEYS)[number], string>>): string {
  return FILE_KEYS.map((key) => {
    const path = paths[key];
    if (path === undefined) return "";
    const st = statSync(path);
    return `${st.ino}:${st.size}:${st.mtimeMs}`;
  }).join("|");
}

function readFiles(paths: Partial<Record<(typeof FILE_KEYS)[number], string>>): tls.ConnectionOptions {
  const files: tls.ConnectionOptions = {};
  for (const key of FILE_KEYS) {
    const path = paths[key];
    if (path !== undefined) files[TARGET[key]] = readFileSync(path);
  }
  return files;
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g;

/** Throws unless `pem` holds at least one certificate and every one parses (Node would ignore the rest quietly). */
function checkCertificates(pem: Buffer, file: string): void {
  const blocks = pem.toString("latin1").match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) throw new Error(`${file} holds no PEM certificate`);
  for (const block of blocks) new X509Certificate(block);
}
