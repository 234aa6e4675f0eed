/**
 * The life of one server (one endpoint) in the pool. Every change of state goes through `nextState`, so that this
 * table is the whole story (docs/architecture.md draws it):
 *
 * | from         | event       | to           | when                                                                |
 * | ------------ | ----------- | ------------ | ------------------------------------------------------------------- |
 * | `idle`       | `open`      | `connecting` | frames wait and the server's tier is needed                         |
 * | `connecting` | `ready`     | `up`         | connected, handshake done                                           |
 * | `connecting` | `fail`      | `down`       | refused, timed out, TLS or auth failure                             |
 * | `up`         | `drain`     | `draining`   | removed from the servers, or older than `maxConnectionAgeMs`        |
 * | `up`         | `fail`      | `down`       | the connection failed (reset, ack timeout, protocol error)          |
 * | `up`         | `close`     | `idle`       | an expected close: `keepalive: false` after its frame               |
 * | `up`         | `giveUp`    | `failed`     | a unix socket that never acks while acks are required               |
 * | `up`         | `stall`     | `stalled`    | acks off: a heartbeat went unanswered (frozen server, cut network)  |
 * | `stalled`    | `resume`    | `up`         | it answered again: nothing it held was lost                         |
 * | `stalled`    | `fail`      | `down`       | no answer by the write deadline either                              |
 * | `draining`   | `close`     | `idle`       | its frames in flight settled; a recycled connection reopens at once |
 * | `draining`   | `fail`      | `down`       | it failed before they settled (they go to other servers)            |
 * | `down`       | `open`      | `connecting` | the backoff is over, or the return probe connected                  |
 * | `down`       | `park`      | `idle`       | a standby whose retry came while a lower tier is healthy again      |
 * | any          | `close`     | `idle`       | the sink closed                                                     |
 *
 * `failed` is final. A server that discovery or `setServers` removed leaves the pool from `idle` or `down` at once,
 * from `connecting`, `up`, `stalled` or `draining` once its connection has closed.
 */
export type ServerHealth = "idle" | "connecting" | "up" | "stalled" | "draining" | "down" | "failed";

/** What happens to a server. */
export type ServerEvent =
  "open" | "ready" | "drain" | "fail" | "close" | "giveUp" | "park" | "stall" | "resume";

const TRANSITIONS: Readonly<Record<ServerHealth, Partial<Record<ServerEvent, ServerHealth>>>> = {
  idle: { open: "connecting", close: "idle" },
  connecting: { ready: "up", fail: "down", close: "idle", drain: "draining" },
  up: { drain: "draining", fail: "down", close: "idle", giveUp: "failed", stall: "stalled" },
  stalled: { resume: "up", fail: "down", close: "idle", drain: "draining" },
  draining: { close: "idle", fail: "down", drain: "draining", giveUp: "failed" },
  down: { open: "connecting", park: "idle", close: "idle" },
  failed: { close: "failed" },
};

/** The state after `event`; throws on a transition the table does not have (a bug in the pool, never input). */
export function nextState(state: ServerHealth, event: ServerEvent): ServerHealth {
  const next = TRANSITIONS[state][event];
  if (next === undefined)
    throw new Error(`internal error: server state ${state} has no transition on ${event}`);
  return next;
}
