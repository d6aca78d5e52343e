// Evaluating the device graph of config.ts with the configure-time keys: choices (ifImpl,
// matchImpl) are resolved, identical devices are shared, and devices are ordered so each one's
// dependencies come first.
import type { DeviceNode, JobNode, Json, Node, Registration } from "../config/impl.ts";
import { Key, targetKey, type KeyContext } from "../config/key.ts";

export interface DeviceInstance {
  kind: "device";
  id: number;
  /** Variable name in the generated main. */
  varName: string;
  node: DeviceNode;
  deps: Record<string, Instance>;
  /** Longest dependency chain below it: instances of one level connect concurrently. */
  level: number;
}

export interface JobInstance {
  kind: "job";
  id: number;
  varName: string;
  node: JobNode;
  deps: Record<string, Instance>;
  level: number;
}

export type Instance = DeviceInstance | JobInstance;

export interface EvaluatedGraph {
  name: string;
  version: string;
  /** Dependencies first. */
  instances: Instance[];
  jobs: JobInstance[];
}

export class ConfigError extends Error {}

/** Every key that any node of the graph (any branch) reads, target first. */
export function collectKeys(reg: Registration): Key<unknown>[] {
  const seen = new Set<Node>();
  const keys = new Map<string, Key<unknown>>();
  keys.set(targetKey.name, targetKey as Key<unknown>);
  const visit = (n: Node) => {
    if (seen.has(n)) return;
    seen.add(n);
    switch (n.kind) {
      case "if":
        n.cond.keys.forEach((k) => keys.set(k.name, k));
        visit(n.then);
        visit(n.else);
        break;
      case "match":
        n.value.keys.forEach((k) => keys.set(k.name, k));
        n.cases.forEach(([, c]) => visit(c));
        visit(n.default);
        break;
      default:
        Object.values(n.deps).forEach(visit);
    }
  };
  reg.jobs.forEach(visit);
  return [...keys.values()];
}

export function keyContext(values: Map<string, unknown>): KeyContext {
  return {
    get<T>(key: Key<T>): T {
      return (values.has(key.name) ? values.get(key.name) : key.spec.default) as T;
    },
  };
}

function sanitize(s: string): string {
  return s.replace(/[^a-zA-Z0-9_]/g, "_");
}

function stableJson(v: Json | undefined): string {
  if (v === undefined) return "";
  if (v === null || typeof v !== "object") return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(stableJson).join(",")}]`;
  return `{${Object.keys(v)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${stableJson(v[k])}`)
    .join(",")}}`;
}

/** Resolves an If/Match node to the branch the keys choose. */
export function choose(n: Node, ctx: KeyContext): Exclude<Node, { kind: "if" | "match" }> {
  let cur = n;
  for (;;) {
    if (cur.kind === "if") cur = cur.cond.eval(ctx) ? cur.then : cur.else;
    else if (cur.kind === "match") {
      const v = cur.value.eval(ctx);
      cur = cur.cases.find(([c]) => c === v)?.[1] ?? cur.default;
    } else return cur;
  }
}

export function evaluate(reg: Registration, ctx: KeyContext): EvaluatedGraph {
  const target = ctx.get(targetKey);
  const byNode = new Map<Node, Instance>();
  const byShape = new Map<string, Instance>();
  const instances: Instance[] = [];
  let nextId = 1;

  const resolve = (n: Node, path: string[]): Instance => {
    const chosen = choose(n, ctx);
    const known = byNode.get(chosen);
    if (known) return known;
    const label = chosen.kind === "device" ? `${chosen.typ} '${chosen.name}'` : `job ${chosen.module}`;
    if (path.includes(label)) throw new ConfigError(`the device graph has a cycle: ${[...path, label].join(" → ")}`);
    const deps: Record<string, Instance> = {};
    for (const [name, d] of Object.entries(chosen.deps)) deps[name] = resolve(d, [...path, label]);
    const depShape = Object.keys(deps)
      .sort()
      .map((k) => `${k}=${deps[k]!.id}`)
      .join(",");
    const shape =
      chosen.kind === "device"
        ? `device|${chosen.module}|${chosen.export}|${chosen.group}|${chosen.name}|${stableJson(chosen.options)}|${depShape}`
        : `job|${chosen.module}|${depShape}`;
    const same = byShape.get(shape);
    if (same) {
      byNode.set(chosen, same);
      return same;
    }
    if (chosen.kind === "device" && chosen.targets && !chosen.targets.includes(target)) {
      throw new ConfigError(`${chosen.description} (${chosen.typ}) is not available on target '${target}' (it exists on: ${chosen.targets.join(", ")}); choose another implementation in config.ts`);
    }
    const level = Math.max(-1, ...Object.values(deps).map((d) => d.level)) + 1;
    const id = nextId++;
    const inst: Instance =
      chosen.kind === "device"
        ? { kind: "device", id, varName: `${sanitize(chosen.typ)}_${id}`, node: chosen, deps, level }
        : { kind: "job", id, varName: `job_${id}`, node: chosen, deps, level };
    byNode.set(chosen, inst);
    byShape.set(shape, inst);
    instances.push(inst);
    return inst;
  };

  const jobs = reg.jobs.map((j) => resolve(j, []));
  for (const j of jobs) if (j.kind !== "job") throw new ConfigError(`register("${reg.name}", …) expects jobs made by main(…), got a ${j.node.typ} device`);
  return { name: reg.name, version: reg.version, instances, jobs: jobs as JobInstance[] };
}
