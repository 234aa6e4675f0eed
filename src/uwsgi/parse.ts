import { isUtf8 } from "node:buffer";
import { UwsgiStatsError, UwsgiStatsErrorCode as Code } from "./errors.js";

/** How deep a document may nest: uWSGI's own documents are at most 7 deep. */
export const MAX_DEPTH = 64;
/** Default of `maxElements`: the values (scalars and containers) a document may hold. */
export const DEFAULT_MAX_ELEMENTS = 250_000;

/** Bounds of one document, checked before any shape runs. */
export interface DocumentLimits {
  /** Deepest nesting accepted (the document itself is depth 1). Default MAX_DEPTH. */
  readonly maxDepth?: number;
  /** Most values (scalars, arrays and objects, the document included). Default DEFAULT_MAX_ELEMENTS. */
  readonly maxElements?: number;
}

/** A parsed stats document and whether the repair pass had to be used to read it. */
export interface ParsedDocument {
  readonly doc: Record<string, unknown>;
  /** True when the bytes were not valid JSON (or not UTF-8) and were read by the tolerant parser. */
  readonly repaired: boolean;
  /**
   * Numbers too large for a double (`1e400` reads as Infinity) that were taken out: left out of their object,
   * `null` in their array. No shape, raw included, ever carries a non-finite number.
   */
  readonly nonFinite: number;
}

/**
 * Parses a stats document. Valid JSON goes through `JSON.parse` unchanged (exact). uWSGI writes some
 * strings unescaped (cwd, lock names, socket names, mountpoints) and passes raw control and non-UTF-8
 * bytes of request headers through, so on failure a repair pass reads those strings leniently and keeps
 * every number. A document cut short is `UWSGI_STATS_TRUNCATED`; anything else unreadable is
 * `UWSGI_STATS_INVALID_JSON`. A document nested deeper than `maxDepth` is `UWSGI_STATS_TOO_DEEP`, one of
 * more than `maxElements` values `UWSGI_STATS_TOO_MANY_ELEMENTS`: whatever is returned, every shape and
 * encoder can take. Throws only `UwsgiStatsError`.
 */
export function parseDocument(target: string, body: Buffer, limits: DocumentLimits = {}): ParsedDocument {
  const maxDepth = limits.maxDepth ?? MAX_DEPTH;
  const maxElements = limits.maxElements ?? DEFAULT_MAX_ELEMENTS;
  const utf8 = isUtf8(body);
  const text = body.toString("utf8");
  let value: unknown;
  let repaired = !utf8;
  try {
    value = JSON.parse(text);
  } catch {
    value = repair(target, text, body, maxDepth);
    repaired = true;
  }
  const nonFinite = checkBounds(target, value, body, maxDepth, maxElements);
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new UwsgiStatsError(
      Code.UNEXPECTED_DOCUMENT,
      target,
      `${target} sent JSON that is not a uWSGI stats document (expected an object)`,
      { received: body },
    );
  }
  return { doc: value as Record<string, unknown>, repaired, nonFinite };
}

/**
 * Walks `value` without recursion; throws TOO_DEEP or TOO_MANY_ELEMENTS at the first value past a bound.
 * Takes out the non-finite numbers on the way (JSON has none, but `1e400` parses to Infinity) and returns
 * how many it took out.
 */
function checkBounds(
  target: string,
  value: unknown,
  body: Buffer,
  maxDepth: number,
  maxElements: number,
): number {
  let nonFinite = 0;
  const values: unknown[] = [value];
  const depths: number[] = [1];
  let count = 0;
  while (values.length > 0) {
    const v = values.pop();
    const depth = depths.pop() as number;
    if (++count > maxElements) {
      throw new UwsgiStatsError(
        Code.TOO_MANY_ELEMENTS,
        target,
        `${target} sent a document of more than ${maxElements} values (${body.length} bytes); raise maxElements if it is real`,
        { received: body },
      );
    }
    if (typeof v !== "object" || v === null) continue;
    if (depth > maxDepth) throw tooDeep(target, body, maxDepth);
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const child: unknown = v[i];
        if (typeof child === "number" && !Number.isFinite(child)) {
          v[i] = null;
          nonFinite++;
        }
        values.push(child);
        depths.push(depth + 1);
      }
      continue;
    }
    const o = v as Record<string, unknown>;
    for (const key of Object.keys(o)) {
      const child = o[key];
      if (typeof child === "number" && !Number.isFinite(child)) {
        delete o[key];
        nonFinite++;
      }
      values.push(child);
      depths.push(depth + 1);
    }
  }
  return nonFinite;
}

function tooDeep(target: string, body: Buffer, maxDepth: number): UwsgiStatsError {
  return new UwsgiStatsError(
    Code.TOO_DEEP,
    target,
    `${target} sent a document nested more than ${maxDepth} deep (uWSGI's own are at most 7)`,
    { received: body },
  );
}

function repair(target: string, text: string, body: Buffer, maxDepth: number): unknown {
  let sawEnd = false;
  let first: unknown;
  let firstOk = false;
  for (const lenient of [false, true]) {
    try {
      const value = new TolerantParser(text, lenient, maxDepth).document();
      if (looksLikeStats(value)) return value;
      if (!firstOk) {
        first = value;
        firstOk = true;
      }
    } catch (err) {
      if (err instanceof TooDeep) throw tooDeep(target, body, maxDepth);
      if (!(err instanceof ParseFailure)) throw err;
      if (err.atEnd) sawEnd = true;
    }
  }
  if (firstOk) return first;
  const truncated = sawEnd && text.trimStart().startsWith("{");
  return fail(target, body, truncated);
}

function fail(target: string, body: Buffer, truncated: boolean): never {
  if (truncated) {
    throw new UwsgiStatsError(
      Code.TRUNCATED,
      target,
      `${target} sent an incomplete document (${body.length} bytes), then closed`,
      { received: body },
    );
  }
  throw new UwsgiStatsError(Code.INVALID_JSON, target, `${target} sent something that is not JSON`, {
    received: body,
  });
}

function looksLikeStats(value: unknown): boolean {
  if (typeof value !== "object" || value === null) return false;
  const doc = value as Record<string, unknown>;
  return Array.isArray(doc.workers) || Array.isArray(doc.vassals);
}

class ParseFailure extends Error {
  constructor(readonly atEnd: boolean) {
    super(atEnd ? "unexpected end" : "unexpected character");
  }
}

class TooDeep extends Error {}

const ESCAPES: Record<string, string> = {
  '"': '"',
  "\\": "\\",
  "/": "/",
  b: "\b",
  f: "\f",
  n: "\n",
  r: "\r",
  t: "\t",
};
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

/**
 * A JSON reader that accepts what uWSGI produces: a quote inside a string closes it only when what follows
 * is structural (`:` after a key; `,` `}` `]` after a value), an unknown escape keeps its backslash, raw
 * control characters are kept. In `lenient` mode a `\"` that could close the string is read as a literal
 * backslash followed by the closing quote (a path ending with a backslash).
 */
class TolerantParser {
  private i = 0;
  private depth = 0;

  constructor(
    private readonly s: string,
    private readonly lenient: boolean,
    private readonly maxDepth: number,
  ) {}

  document(): unknown {
    const value = this.value(false);
    this.ws();
    if (this.i < this.s.length) throw new ParseFailure(false);
    return value;
  }

  private ws(): void {
    const s = this.s;
    while (this.i < s.length) {
      const c = s.charCodeAt(this.i);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) this.i++;
      else break;
    }
  }

  private value(inObject: boolean): unknown {
    this.ws();
    if (this.i >= this.s.length) throw new ParseFailure(true);
    const c = this.s[this.i];
    if (c === "{" || c === "[") {
      if (++this.depth > this.maxDepth) throw new TooDeep();
      const container = c === "{" ? this.object() : this.array();
      this.depth--;
      return container;
    }
    if (c === '"') return this.string(inObject ? "objectValue" : "arrayValue");
    if (c === "-" || (c !== undefined && c >= "0" && c <= "9")) return this.number();
    for (const [word, v] of [
      ["true", true],
      ["false", false],
      ["null", null],
    ] as const) {
      if (this.s.startsWith(word, this.i)) {
        this.i += word.length;
        return v;
      }
      if (word.startsWith(this.s.slice(this.i))) throw new ParseFailure(true);
    }
    throw new ParseFailure(false);
  }

  private number(): number {
    NUMBER.lastIndex = this.i;
    const m = NUMBER.exec(this.s);
    if (!m) throw new ParseFailure(this.i + 1 >= this.s.length);
    this.i += m[0].length;
    return Number(m[0]);
  }

  private object(): Record<string, unknown> {
    this.i++;
    const out: Record<string, unknown> = {};
    this.ws();
    if (this.s[this.i] === "}") {
      this.i++;
      return out;
    }
    for (;;) {
      this.ws();
      if (this.i >= this.s.length) throw new ParseFailure(true);
      if (this.s[this.i] !== '"') throw new ParseFailure(false);
      const key = this.string("key");
      this.ws();
      if (this.i >= this.s.length) throw new ParseFailure(true);
      if (this.s[this.i] !== ":") throw new ParseFailure(false);
      this.i++;
      const v = this.value(true);
      if (key === "__proto__")
        Object.defineProperty(out, key, { value: v, enumerable: true, writable: true });
      else out[key] = v;
      this.ws();
      const c = this.s[this.i];
      if (c === undefined) throw new ParseFailure(true);
      this.i++;
      if (c === "}") return out;
      if (c !== ",") throw new ParseFailure(false);
    }
  }

  private array(): unknown[] {
    this.i++;
    const out: unknown[] = [];
    this.ws();
    if (this.s[this.i] === "]") {
      this.i++;
      return out;
    }
    for (;;) {
      out.push(this.value(false));
      this.ws();
      const c = this.s[this.i];
      if (c === undefined) throw new ParseFailure(true);
      this.i++;
      if (c === "]") return out;
      if (c !== ",") throw new ParseFailure(false);
    }
  }

  private string(context: "key" | "objectValue" | "arrayValue"): string {
    const s = this.s;
    this.i++;
    let out = "";
    let start = this.i;
    for (;;) {
      if (this.i >= s.length) throw new ParseFailure(true);
      const c = s[this.i];
      if (c === '"') {
        if (this.closes(this.i, context)) {
          out += s.slice(start, this.i);
          this.i++;
          return out;
        }
        this.i++;
      } else if (c === "\\") {
        const next = s[this.i + 1];
        if (next === undefined) throw new ParseFailure(true);
        out += s.slice(start, this.i);
        if (next === '"' && this.lenient && this.closes(this.i + 1, context)) {
          out += "\\";
          this.i += 2;
          return out;
        }
        const simple = ESCAPES[next];
        if (simple !== undefined) {
          out += simple;
          this.i += 2;
        } else if (next === "u" && /^[0-9a-fA-F]{4}$/.test(s.slice(this.i + 2, this.i + 6))) {
          out += String.fromCharCode(parseInt(s.slice(this.i + 2, this.i + 6), 16));
          this.i += 6;
        } else {
          out += "\\";
          this.i += 1;
        }
        start = this.i;
      } else this.i++;
    }
  }

  /** Whether the quote at `q` ends the string: what follows must fit the string's place in the document. */
  private closes(q: number, context: "key" | "objectValue" | "arrayValue"): boolean {
    const s = this.s;
    let j = q + 1;
    while (j < s.length && /[ \t\r\n]/.test(s[j] as string)) j++;
    if (j >= s.length) return true;
    const c = s[j];
    if (context === "key") return c === ":";
    if (c === (context === "objectValue" ? "}" : "]")) return true;
    if (c !== ",") return false;
    j++;
    while (j < s.length && /[ \t\r\n]/.test(s[j] as string)) j++;
    if (j >= s.length) return true;
    const n = s[j] as string;
    if (context === "objectValue") return n === '"';
    return n === '"' || n === "{" || n === "[" || n === "-" || (n >= "0" && n <= "9") || /[tfn]/.test(n);
  }
}
