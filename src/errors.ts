/**
 * The brands of an error: the names of its class and of every class above it up to `UwsgiForwardError`. Kept under
 * a `Symbol.for` key, so that the ESM and the CommonJS build (two copies of every class) recognise each other's
 * errors.
 */
const BRANDS = Symbol.for("uwsgi-forward.error.brands");

/**
 * Base class of every error this package creates. Branch on `code`, never on `message`: codes are stable across
 * releases and listed in docs/errors.md. `instanceof` holds across the ESM and the CommonJS build.
 */
export class UwsgiForwardError extends Error {
  /** Stable machine-readable code, e.g. `FORWARD_AUTH_FAILED`. */
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
    const brands: string[] = [];
    for (let c: unknown = new.target; typeof c === "function" && c !== Error; c = Object.getPrototypeOf(c)) {
      brands.push((c as { name: string }).name);
    }
    Object.defineProperty(this, BRANDS, { value: Object.freeze(brands) });
  }

  /** `err instanceof SomeError` by brand: true for an error of that class from either build of this package. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    const brands = (value as { [BRANDS]?: unknown } | null | undefined)?.[BRANDS];
    if (Array.isArray(brands)) return brands.includes(this.name);
    return Function.prototype[Symbol.hasInstance].call(this, value);
  }
}

/** An option passed to a constructor or a function is missing, of the wrong type, or out of range. */
export class InvalidOptionError extends UwsgiForwardError {
  /** The dotted path of the offending option, e.g. `servers[1].port`. */
  readonly option: string;

  constructor(option: string, message: string) {
    super("INVALID_OPTION", `Invalid option "${option}": ${message}`);
    this.option = option;
  }
}
