import { readdir } from "node:fs/promises";
import type { Dirent } from "node:fs";

/**
 * Compiles one path segment of a glob (`*`, `?`, `[abc]`, `[a-z]`, `[!x]`) to a RegExp. As in a shell,
 * wildcards do not match a leading dot unless the segment itself starts with one.
 */
export function segmentToRegExp(segment: string): RegExp {
  let source = "";
  for (let i = 0; i < segment.length; i++) {
    const c = segment[i] as string;
    if (c === "*") source += "[^/]*";
    else if (c === "?") source += "[^/]";
    else if (c === "[") {
      const end = segment.indexOf("]", i + 2);
      if (end === -1) {
        source += "\\[";
        continue;
      }
      let body = segment.slice(i + 1, end);
      let negate = false;
      if (body.startsWith("!") || body.startsWith("^")) {
        negate = true;
        body = body.slice(1);
      }
      body = body.replace(/[\\\]^]/g, "\\$&");
      source += negate ? `[^/${body}]` : `[${body}]`;
      i = end;
    } else source += c.replace(/[.+^${}()|\\/]/g, "\\$&");
  }
  const dotGuard = segment.startsWith(".") ? "" : "(?!\\.)";
  return new RegExp(`^${dotGuard}${source}$`);
}

/** Expands a glob of unix socket paths: matching entries of the last segment must be sockets (or symlinks). */
export class GlobPattern {
  readonly pattern: string;
  private readonly root: string;
  private readonly segments: readonly (string | RegExp)[];

  constructor(pattern: string) {
    this.pattern = pattern;
    const absolute = pattern.startsWith("/");
    const parts = pattern.split("/").filter((p) => p.length > 0 && p !== ".");
    this.root = absolute ? "/" : ".";
    this.segments = parts.map((p) => (/[*?[]/.test(p) ? segmentToRegExp(p) : p));
  }

  /** The matching paths, sorted. A directory that does not exist yields no match; other errors throw. */
  async expand(): Promise<string[]> {
    let current = [this.root === "/" ? "" : "."];
    const last = this.segments.length - 1;
    for (let s = 0; s <= last && current.length > 0; s++) {
      const segment = this.segments[s] as string | RegExp;
      if (typeof segment === "string") {
        current = current.map((dir) => `${dir}/${segment}`);
        continue;
      }
      const next: string[] = [];
      for (const dir of current) {
        let entries: Dirent[];
        try {
          entries = await readdir(dir === "" ? "/" : dir, { withFileTypes: true });
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code === "ENOENT" || code === "ENOTDIR") continue;
          throw err;
        }
        for (const entry of entries) {
          if (!segment.test(entry.name)) continue;
          const wanted =
            s === last
              ? entry.isSocket() || entry.isSymbolicLink() || entry.isFile() === false
              : entry.isDirectory() || entry.isSymbolicLink();
          if (wanted && !(s === last && entry.isDirectory())) next.push(`${dir}/${entry.name}`);
        }
      }
      current = next;
    }
    const result = current.map((p) => (p.startsWith("./") ? p.slice(2) : p));
    return result.sort();
  }
}
