/**
 * Base class of every error this package creates. Branch on `code`, never on `message`:
 * codes are stable across releases and listed in docs/errors.md.
 */
export class UwsgiForwardError extends Error {
  /** Stable machine-readable code, e.g. `FORWARD_AUTH_FAILED`. */
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
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
