import { NorikraQueryRejectedError, NorikraRemoteError, NorikraTypeMismatchError } from "./errors.js";
import { sameExpression, type NamedQuery } from "./queries-file.js";
import type { NorikraQuery, NorikraRpc } from "./rpc.js";
import type { TargetPlan } from "./targets.js";

/** What one pass of `applySetup` changed in Norikra (empty lists: everything was already in place). */
export interface SetupReport {
  /** Targets that were not open and were opened with their types. */
  readonly opened: string[];
  /** Targets that were open without any field type (a query registered first) and were re-opened with types. */
  readonly reopened: string[];
  /** Fields declared on targets that lacked them, as `target.field`. */
  readonly reserved: string[];
  /** Queries that were missing and were registered. */
  readonly registered: string[];
  /** Queries that had the same name but another expression, replaced by the file's. */
  readonly replaced: string[];
  /** Queries that were already there as the file says. */
  readonly unchanged: string[];
  /** Queries Norikra refused, with its message. */
  readonly rejected: NorikraQueryRejectedError[];
}

/** True when the pass changed something in Norikra. */
export function changedAnything(report: SetupReport): boolean {
  return (
    report.opened.length + report.reopened.length + report.reserved.length + report.registered.length > 0 ||
    report.replaced.length > 0
  );
}

/**
 * Brings Norikra to the state the plans and queries describe, whatever it holds now: opens each missing target
 * with its base fields, declares (reserves) every other field with its type, then registers each missing query
 * and replaces one whose expression differs. A target open without any type (Norikra opens one so when a query
 * names it before any event) is closed and re-opened with types, and its queries registered again: Norikra 1.5.1
 * fails on every event of such a target once a field is reserved on it. A field already typed otherwise is a
 * NorikraTypeMismatchError (nothing is changed on that target); a refused query is reported in `rejected`.
 */
export async function applySetup(
  rpc: NorikraRpc,
  plans: readonly TargetPlan[],
  queries: readonly NamedQuery[],
  queriesSource: string,
): Promise<SetupReport> {
  const report: SetupReport = {
    opened: [],
    reopened: [],
    reserved: [],
    registered: [],
    replaced: [],
    unchanged: [],
    rejected: [],
  };
  const open = new Set((await rpc.targets()).map((t) => t.name));
  const orphans: NorikraQuery[] = [];
  for (const plan of plans) {
    if (!open.has(plan.name)) {
      await rpc.open(plan.name, plan.base, true);
      report.opened.push(plan.name);
    } else if ((await rpc.fields(plan.name)).length === 0) {
      const onTarget = (await rpc.queries()).filter((q) => q.targets.includes(plan.name));
      await rpc.close(plan.name);
      await rpc.open(plan.name, plan.base, true);
      orphans.push(...onTarget);
      report.reopened.push(plan.name);
    }
    const known = new Map((await rpc.fields(plan.name)).map((f) => [f.name, f.type]));
    const declared = { ...plan.base, ...plan.optional };
    const mismatches: string[] = [];
    for (const [field, type] of Object.entries(declared)) {
      const actual = known.get(field);
      if (actual !== undefined && actual !== type) {
        mismatches.push(`${field} is ${actual} in Norikra, ${type} in uwsgi-forward's records`);
      }
    }
    if (mismatches.length > 0) throw new NorikraTypeMismatchError(plan.name, mismatches);
    for (const [field, type] of Object.entries(plan.optional)) {
      if (known.has(field)) continue;
      if (await rpc.reserve(plan.name, field, type)) report.reserved.push(`${plan.name}.${field}`);
    }
  }

  const registered = new Map((await rpc.queries()).map((q) => [q.name, q]));
  const register = async (name: string, group: string | null, expression: string, source: string) => {
    try {
      await rpc.register(name, group, expression);
      return true;
    } catch (err) {
      if (!(err instanceof NorikraRemoteError)) throw err;
      report.rejected.push(new NorikraQueryRejectedError(name, source, err.remoteMessage, err));
      return false;
    }
  };
  for (const query of queries) {
    const source = `${queriesSource}:${query.line}`;
    const existing = registered.get(query.name);
    if (existing && sameExpression(existing.expression, query.expression)) {
      report.unchanged.push(query.name);
      continue;
    }
    if (existing) await rpc.deregister(query.name);
    if (await register(query.name, existing?.group ?? null, query.expression, source)) {
      (existing ? report.replaced : report.registered).push(query.name);
    }
  }
  for (const orphan of orphans) {
    if (queries.some((q) => q.name === orphan.name)) continue;
    const source = `re-registered after re-opening ${orphan.targets.join(",")}`;
    if (await register(orphan.name, orphan.group, orphan.expression, source)) {
      report.registered.push(orphan.name);
    }
  }
  return report;
}
