import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from "node:fs";
import { formatSize } from "./sizes.js";

/**
 * Largest file a setting may name (a config file, a key or password file, a PEM file, a queries file): 1 MiB.
 * The largest legitimate one is a CA bundle (Debian's whole system bundle is about 220 KiB).
 */
export const SETTING_FILE_MAX_BYTES = 1024 * 1024;

/**
 * A file's text, or why it was refused: `refused` says what the file is (`a FIFO, not a regular file`) or, when it
 * could not be opened or read, is the system's `code` (`ENOENT`).
 */
export type SettingFileText =
  { readonly text: string } | { readonly refused: string; readonly code?: string };

/**
 * Reads a file a setting names, as UTF-8, refusing at once anything that is not a regular file of at most
 * `maxBytes` (a directory, a FIFO, a device such as /dev/zero, a socket, a larger file): such a file would
 * block, never end or fill the memory. The file is opened non-blocking (a FIFO does not wait for a writer) and
 * read no further than `maxBytes + 1`, so a file that grows, or that reports no size (/proc), is bounded too.
 */
export function readSettingFile(path: string, maxBytes = SETTING_FILE_MAX_BYTES): SettingFileText {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    return { refused: code, code };
  }
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile()) return { refused: `${kindOf(stats)}, not a regular file` };
    const tooLarge = { refused: `larger than the ${formatSize(maxBytes)} limit of a setting's file` };
    if (stats.size > maxBytes) return tooLarge;
    const buffer = Buffer.allocUnsafe(maxBytes + 1);
    let length = 0;
    while (length < buffer.length) {
      const read = readSync(fd, buffer, length, buffer.length - length, null);
      if (read === 0) break;
      length += read;
    }
    if (length > maxBytes) return tooLarge;
    return { text: buffer.toString("utf8", 0, length) };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    return { refused: code, code };
  } finally {
    closeSync(fd);
  }
}

function kindOf(stats: Stats): string {
  if (stats.isDirectory()) return "a directory";
  if (stats.isFIFO()) return "a FIFO";
  if (stats.isCharacterDevice()) return "a character device";
  if (stats.isBlockDevice()) return "a block device";
  if (stats.isSocket()) return "a socket";
  return "not a regular file";
}
