/** One named statement of a queries file. */
export interface NamedQuery {
  readonly name: string;
  /** The statement without its comments and final `;`, as it is registered in Norikra. */
  readonly expression: string;
  /** 1-based line of its `-- name:` comment. */
  readonly line: number;
}

/** Why a queries file cannot be split, with the 1-based line it concerns. */
export class QueriesSyntaxError extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(`line ${line}: ${message}`);
  }
}

const NAME_LINE = /^--\s*name:\s*(\S*)\s*$/;
const QUERY_NAME = /^[A-Za-z][A-Za-z0-9_]*$/;

/**
 * Splits a queries file (examples/norikra/queries.sql) into named statements: a `-- name: NAME` comment line
 * before each statement, statements ended by `;`. Semicolons inside `--` and `/* *\/` comments, inside
 * '…' and "…" strings and inside `…` identifiers do not split; comments are not part of a statement.
 */
export function splitQueries(text: string): NamedQuery[] {
  const queries: NamedQuery[] = [];
  const seen = new Map<string, number>();
  let pending: { name: string; line: number } | undefined;
  let code = "";
  let codeStartLine = 0;
  let line = 1;
  let i = 0;
  const n = text.length;

  const finish = (endLine: number): void => {
    const expression = code
      .split("\n")
      .map((l) => l.trimEnd())
      .filter((l) => l.trim() !== "")
      .join("\n")
      .trim();
    code = "";
    if (expression === "") {
      if (pending) throw new QueriesSyntaxError(pending.line, `query ${pending.name} has no statement`);
      return;
    }
    if (!pending) {
      throw new QueriesSyntaxError(
        codeStartLine,
        `a statement without a "-- name: NAME" comment line before it (ending on line ${endLine})`,
      );
    }
    queries.push({ name: pending.name, expression, line: pending.line });
    pending = undefined;
  };

  while (i < n) {
    const c = text[i] as string;
    const next = text[i + 1];
    if (c === "-" && next === "-") {
      let end = text.indexOf("\n", i);
      if (end < 0) end = n;
      const comment = text.slice(i, end).trim();
      const atLineStart = text.slice(text.lastIndexOf("\n", i - 1) + 1, i).trim() === "";
      const name = NAME_LINE.exec(comment);
      if (name && atLineStart) {
        if (code.trim() !== "") {
          throw new QueriesSyntaxError(
            line,
            `"-- name:" inside a statement: end the statement before it with ;`,
          );
        }
        if (pending) throw new QueriesSyntaxError(pending.line, `query ${pending.name} has no statement`);
        const queryName = name[1] ?? "";
        if (!QUERY_NAME.test(queryName)) {
          throw new QueriesSyntaxError(line, `query name "${queryName}" must match [A-Za-z][A-Za-z0-9_]*`);
        }
        const before = seen.get(queryName);
        if (before !== undefined) {
          throw new QueriesSyntaxError(
            line,
            `query name ${queryName} is used twice (first on line ${before})`,
          );
        }
        seen.set(queryName, line);
        pending = { name: queryName, line };
      } else code += " ";
      i = end;
      continue;
    }
    if (c === "/" && next === "*") {
      const end = text.indexOf("*/", i + 2);
      if (end < 0) throw new QueriesSyntaxError(line, "a /* comment that never ends");
      const body = text.slice(i, end + 2);
      const newlines = body.split("\n").length - 1;
      line += newlines;
      code += newlines > 0 ? "\n".repeat(newlines) : " ";
      i = end + 2;
      continue;
    }
    if (c === "'" || c === '"' || c === "`") {
      const start = i;
      const startLine = line;
      i++;
      for (;;) {
        if (i >= n) throw new QueriesSyntaxError(startLine, `a ${c}…${c} that never ends`);
        const d = text[i] as string;
        if (d === "\\" && c !== "`") {
          i += 2;
          continue;
        }
        if (d === "\n") line++;
        i++;
        if (d === c) {
          if (text[i] === c) {
            i++; // doubled quote: an escaped quote
            continue;
          }
          break;
        }
      }
      if (code.trim() === "") codeStartLine = startLine;
      code += text.slice(start, i);
      continue;
    }
    if (c === ";") {
      finish(line);
      i++;
      continue;
    }
    if (c === "\n") line++;
    else if (code.trim() === "" && c.trim() !== "") codeStartLine = line;
    code += c;
    i++;
  }
  finish(line);
  if (pending) throw new QueriesSyntaxError(pending.line, `query ${pending.name} has no statement`);
  return queries;
}

/** Whitespace-insensitive form of an expression, to compare with what Norikra holds. */
export function sameExpression(a: string, b: string): boolean {
  const norm = (s: string): string => s.replace(/\s+/g, " ").trim();
  return norm(a) === norm(b);
}
