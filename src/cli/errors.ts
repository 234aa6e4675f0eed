import { UwsgiForwardError } from "../index.js";

/** Exit code of the sidecar for a wrong flag, environment variable or config-file value. */
export const USAGE_EXIT_CODE = 2;

/**
 * A wrong flag, environment variable or config-file value. Its message is one line that names the
 * setting where it was given and what it accepts; the sidecar prints it and exits with code 2.
 */
export class CliUsageError extends UwsgiForwardError {
  constructor(message: string) {
    super("CLI_USAGE", message);
  }
}
