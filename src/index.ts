export { UwsgiForwardError, InvalidOptionError } from "./errors.js";
export type { EventTimeInput, EventTimeLike, EventRecord, ForwardItem } from "./item.js";
export * from "./forward/index.js";
export * from "./uwsgi/index.js";
