/** The shape an answer of one Norikra RPC method must have, to be used as its type says. */
export interface AnswerShape<T> {
  /** What the answer must be, in words, for NorikraProtocolError's message. */
  readonly description: string;
  test(value: unknown): value is T;
}

/** A Norikra target as `targets` lists it. */
export interface NorikraTarget {
  readonly name: string;
  readonly auto_field: boolean;
}

/** A field of a target as `fields` lists it; `type` is string, boolean, integer, float, hash or array. */
export interface NorikraField {
  readonly name: string;
  readonly type: string;
  readonly optional: boolean;
}

/** A registered query as `queries` lists it. */
export interface NorikraQuery {
  readonly name: string;
  readonly group: string | null;
  readonly expression: string;
  readonly targets: readonly string[];
  readonly suspended: boolean;
}

/** One result row of a query: Norikra's time (epoch seconds) and the selected values. */
export type NorikraEvent = [number, Record<string, unknown>];

type Fields = Record<string, unknown>;

function isObject(value: unknown): value is Fields {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function listOf<T>(description: string, item: (value: unknown) => boolean): AnswerShape<T[]> {
  return {
    description: `a list of ${description}`,
    test: (value: unknown): value is T[] => Array.isArray(value) && value.every(item),
  };
}

/** `true` or `false`: what open, close, reserve, register, deregister and send answer (Ruby's `!!r`). */
export const BOOLEAN_ANSWER: AnswerShape<boolean> = {
  description: "true or false",
  test: (value: unknown): value is boolean => typeof value === "boolean",
};

/** What `targets` answers. */
export const TARGETS_ANSWER = listOf<NorikraTarget>(
  "{name: string, auto_field: boolean}",
  (t) => isObject(t) && typeof t.name === "string" && typeof t.auto_field === "boolean",
);

/** What `fields` answers. */
export const FIELDS_ANSWER = listOf<NorikraField>(
  "{name: string, type: string, optional: boolean}",
  (f) =>
    isObject(f) &&
    typeof f.name === "string" &&
    typeof f.type === "string" &&
    typeof f.optional === "boolean",
);

/** What `queries` answers. */
export const QUERIES_ANSWER = listOf<NorikraQuery>(
  "{name: string, group: string or null, expression: string, targets: [string], suspended: boolean}",
  (q) =>
    isObject(q) &&
    typeof q.name === "string" &&
    (q.group === null || typeof q.group === "string") &&
    typeof q.expression === "string" &&
    Array.isArray(q.targets) &&
    q.targets.every((t) => typeof t === "string") &&
    typeof q.suspended === "boolean",
);

/** What `event` answers: rows of [time, values]. */
export const EVENTS_ANSWER = listOf<NorikraEvent>(
  "[time: number, values: map]",
  (e) => Array.isArray(e) && e.length === 2 && typeof e[0] === "number" && isObject(e[1]),
);

/** A value as a protocol error shows it: its kind, and a few characters of its msgpack-decoded form. */
export function describeAnswer(value: unknown): string {
  if (value === null || value === undefined) return "nil";
  if (Array.isArray(value)) return `a list of ${value.length}`;
  if (value instanceof Uint8Array) return `${value.length} bytes of binary`;
  if (typeof value === "string") return `a string of ${value.length} characters`;
  if (typeof value === "object") return "a map";
  return `${typeof value} ${String(value).slice(0, 40)}`;
}
