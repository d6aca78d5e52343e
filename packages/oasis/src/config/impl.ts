// The device graph that config.ts builds. Types (`Typ`) name what a device is; implementations
// (`Impl`) say how to get one. The graph stays symbolic until `oasis configure` evaluates keys.
import type { Value } from "./key.ts";

/** A device type, such as `stackv4v6` or `block`. */
export interface Typ<N extends string> {
  readonly kind: "typ";
  readonly name: N;
  readonly doc: string;
}

export function typ<const N extends string>(name: N, doc = ""): Typ<N> {
  return { kind: "typ", name, doc };
}

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Code generated at build time and imported by the generated main (e.g. a crunched directory). */
export interface Generated {
  generator: "crunch";
  /** Directory relative to config.ts. */
  dir: string;
}

export interface DeviceNode {
  kind: "device";
  /** The device type it provides. */
  typ: string;
  /** Instance name: a file, an interface, a directory. Used in messages, `describe` and arg groups. */
  name: string;
  /** One line for people: "block device on file disk.img". */
  description: string;
  /** Runtime module (import specifier) and export implementing DeviceModule. */
  module: string;
  export: string;
  /** Configure-time options passed to `declare`. */
  options: { [k: string]: Json };
  /** Options computed at build time (passed next to `options`). */
  generated?: { [option: string]: Generated };
  deps: { [name: string]: Node };
  group: string;
  /** Targets this implementation exists on (all when absent). */
  targets?: readonly string[];
  /** Host files the device reads at configure/build time (shown by `query files`). */
  files?: readonly string[];
  packages?: readonly string[];
}

export interface JobNode {
  kind: "job";
  /** Path of the module exporting `start`, relative to config.ts. */
  module: string;
  deps: { [name: string]: Node };
  packages: readonly string[];
}

export interface IfNode {
  kind: "if";
  cond: Value<boolean>;
  then: Node;
  else: Node;
}

export interface MatchNode {
  kind: "match";
  value: Value<unknown>;
  cases: Array<[unknown, Node]>;
  default: Node;
}

export type Node = DeviceNode | JobNode | IfNode | MatchNode;

/**
 * How to obtain a device of type N. The phantom member makes an `Impl<"block">` a type error where
 * an `Impl<"stackv4v6">` is expected, at the line of config.ts that passes it; an implementation
 * that provides several types (a kvRw is also a kvRo) lists them all.
 */
export interface Impl<N extends string> {
  readonly node: Node;
  readonly provides: readonly string[];
  readonly __accepts: (t: N) => void;
}

export type Job = Impl<"job">;
/** Any implementation, whatever type it provides. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyImpl = Impl<any>;

export function makeImpl<N extends string>(node: Node, provides: readonly N[]): Impl<N> {
  return { node, provides, __accepts: () => undefined } as Impl<N>;
}

export interface DeviceSpec<N extends string, A extends string = never> {
  typ: Typ<N>;
  /** Extra device types this one can stand in for (a kvRw is also a kvRo). */
  alsoProvides?: readonly A[];
  name: string;
  description: string;
  module: string;
  export: string;
  options?: { [k: string]: Json };
  generated?: { [option: string]: Generated };
  deps?: { [name: string]: AnyImpl };
  group?: string;
  targets?: readonly string[];
  files?: readonly string[];
  packages?: readonly string[];
}

/** Declares an implementation. Library authors use this to offer their own devices. */
export function impl<N extends string, const A extends string = never>(spec: DeviceSpec<N, A>): Impl<N | A> {
  const deps: { [name: string]: Node } = {};
  for (const [k, v] of Object.entries(spec.deps ?? {})) deps[k] = v.node;
  const node: DeviceNode = {
    kind: "device",
    typ: spec.typ.name,
    name: spec.name,
    description: spec.description,
    module: spec.module,
    export: spec.export,
    options: spec.options ?? {},
    deps,
    group: spec.group ?? "",
  };
  if (spec.generated) node.generated = spec.generated;
  if (spec.targets) node.targets = spec.targets;
  if (spec.files) node.files = spec.files;
  if (spec.packages) node.packages = spec.packages;
  return makeImpl<N | A>(node, [spec.typ.name, ...(spec.alsoProvides ?? [])]);
}

type TypName<T> = T extends Typ<infer N> ? N : never;

export type ImplsFor<D extends Record<string, Typ<string>>> = { [K in keyof D]: Impl<TypName<D[K]>> };

export interface MainOptions {
  /** npm packages the unikernel needs (shown by `query packages`). */
  packages?: readonly string[];
}

/**
 * The user's unikernel: `modulePath` exports `start(devices)`. With a device record, returns a
 * function that takes the implementations (type-checked against the record); without, the job.
 */
export function main(modulePath: string, devices?: Record<string, never>, options?: MainOptions): Job;
export function main<D extends Record<string, Typ<string>>>(modulePath: string, devices: D, options?: MainOptions): (impls: ImplsFor<D>) => Job;
export function main(modulePath: string, devices: Record<string, Typ<string>> = {}, options: MainOptions = {}): Job | ((impls: Record<string, AnyImpl>) => Job) {
  const build = (impls: Record<string, AnyImpl>): Job => {
    const deps: { [name: string]: Node } = {};
    for (const [name, t] of Object.entries(devices)) {
      const i = impls[name];
      if (!i) throw new Error(`main("${modulePath}"): no implementation given for device '${name}' (${t.name})`);
      if (!i.provides.includes(t.name)) throw new Error(`main("${modulePath}"): device '${name}' must be a ${t.name}, got an implementation of ${i.provides.join("/")}`);
      deps[name] = i.node;
    }
    return makeImpl<"job">({ kind: "job", module: modulePath, deps, packages: options.packages ?? [] }, ["job"]);
  };
  return Object.keys(devices).length === 0 ? build({}) : build;
}

/** Chooses between two implementations with a configure-time condition. */
export function ifImpl<N extends string>(cond: Value<boolean>, then: Impl<N>, otherwise: Impl<N>): Impl<N> {
  const provides = then.provides.filter((p) => otherwise.provides.includes(p)) as N[];
  return makeImpl<N>({ kind: "if", cond, then: then.node, else: otherwise.node }, provides);
}

/** Chooses an implementation by a configure-time value; `otherwise` when no case matches. */
export function matchImpl<T, N extends string>(value: Value<T>, cases: ReadonlyArray<readonly [T, Impl<N>]>, otherwise: Impl<N>): Impl<N> {
  let provides = otherwise.provides as N[];
  for (const [, i] of cases) provides = provides.filter((p) => i.provides.includes(p));
  return makeImpl<N>({ kind: "match", value: value as Value<unknown>, cases: cases.map(([v, i]) => [v, i.node]), default: otherwise.node }, provides);
}

export interface Registration {
  name: string;
  jobs: Node[];
  /** Where config.ts called register (for messages). */
  version: string;
}

export interface RegisterOptions {
  /** The unikernel's version, printed by --version (default 0.1.0). */
  version?: string;
}

const REGISTRY = Symbol.for("oasis.config.registrations");

/** Declares the unikernel: its name (the output binary) and the jobs to start. */
export function register(name: string, jobs: readonly Job[], options: RegisterOptions = {}): void {
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(name)) throw new Error(`register: name "${name}" must be letters, digits, '.', '_' or '-' (it names the output file)`);
  const g = globalThis as unknown as { [REGISTRY]?: Registration[] };
  (g[REGISTRY] ??= []).push({ name, jobs: jobs.map((j) => j.node), version: options.version ?? "0.1.0" });
}

/** For the tool: the registrations made while config.ts ran. */
export function takeRegistrations(): Registration[] {
  const g = globalThis as unknown as { [REGISTRY]?: Registration[] };
  const r = g[REGISTRY] ?? [];
  g[REGISTRY] = [];
  return r;
}
