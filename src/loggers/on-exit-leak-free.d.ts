// Types of on-exit-leak-free (pino's exit hooks; the package ships none).
declare module "on-exit-leak-free" {
  /** Calls `fn(obj, "exit")` at process exit while `obj` is alive (held weakly: it may still be collected). */
  export function register<T extends object>(obj: T, fn: (obj: T, event: "exit") => void): void;
  /** Calls `fn(obj, "beforeExit")` when the event loop empties while `obj` is alive. */
  export function registerBeforeExit<T extends object>(
    obj: T,
    fn: (obj: T, event: "beforeExit") => void,
  ): void;
  /** Forgets `obj`'s hooks. */
  export function unregister(obj: object): void;
}
