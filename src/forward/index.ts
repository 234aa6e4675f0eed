export { ForwardSink } from "./sink.js";
export type {
  SinkStats,
  CloseReport,
  CloseOptions,
  AckInfo,
  DropInfo,
  DropReason,
  ForwardSinkEvents,
} from "./sink-types.js";
export { EventTime } from "./protocol/event-time.js";
export { tlsFiles, type TlsFilesOptions, type TlsFilesSource } from "./transport/tls-files.js";
export type { ForwardSinkOptions, ForwardServerOptions, OverflowPolicy, Durability } from "./options.js";
export type { Clock, Timer } from "./clock.js";
export type { ForwardMode } from "./protocol/frame-encoder.js";
export type { ServerInfo, ServerStats, ServerHealth } from "./servers/server-pool.js";
export * from "./errors.js";
