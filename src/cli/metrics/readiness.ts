import type { SidecarSnapshot } from "./snapshot.js";

/** The answer of `/readyz`: ready or not, and why, in one line. */
export interface Readiness {
  readonly ready: boolean;
  readonly reason: string;
}

/**
 * Ready while the last read of at least one target succeeded and (unless `--stdout`) at least one Forward server is
 * connected; not ready before the first poll and from SIGTERM on. Every reason that applies is given.
 */
export function readiness(snapshot: SidecarSnapshot): Readiness {
  if (snapshot.stopping)
    return { ready: false, reason: "stopping: delivering what is buffered, then exiting" };
  const { source, servers } = snapshot;
  if (source.lastPoll === undefined) return { ready: false, reason: "no poll has finished yet" };
  const reasons: string[] = [];
  const targetsUp = source.targets.filter((t) => t.up).length;
  if (targetsUp === 0) {
    const failing = source.targets.map((t) => `${t.target} (${t.lastCode ?? "not read"})`);
    reasons.push(
      failing.length === 0
        ? "no target to poll (no glob matched a socket)"
        : `no target answered its last read: ${failing.join(", ")}`,
    );
  }
  const serversUp = servers?.filter((s) => s.state === "up").length ?? 0;
  if (servers !== undefined && serversUp === 0) {
    const down = servers.map((s) => `${s.id} ${s.state}${s.lastError ? ` (${s.lastError.code})` : ""}`);
    reasons.push(`no Forward server connected: ${down.join(", ")}`);
  }
  if (reasons.length > 0) return { ready: false, reason: reasons.join("; ") };
  const targets = `${targetsUp} of ${source.targets.length} targets up`;
  return {
    ready: true,
    reason:
      servers === undefined
        ? `${targets} (--stdout)`
        : `${targets}, ${serversUp} of ${servers.length} servers connected`,
  };
}
