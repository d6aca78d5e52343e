// Configure-time keys: chosen on the `oasis configure` command line, they decide the device graph.
// They do not exist at runtime (runtime arguments are declared in unikernel code instead).

/** A value computed from keys at configure time. */
export interface Value<T> {
  readonly keys: readonly Key<unknown>[];
  eval(context: KeyContext): T;
  map<U>(f: (v: T) => U): Value<U>;
}

export interface KeyContext {
  get<T>(key: Key<T>): T;
}

export interface KeySpec<T> {
  /** Flag name without dashes: "kv-ro" → --kv-ro. */
  name: string;
  doc: string;
  default: T;
  /** The text for describe/help: what values look like. */
  expected: string;
  parse(text: string): T;
  format?(value: T): string;
  flag?: boolean;
  short?: string;
  /** Environment variable read when the flag is absent. */
  env?: string;
}

function makeValue<T>(keys: readonly Key<unknown>[], evaluate: (c: KeyContext) => T): Value<T> {
  return {
    keys,
    eval: evaluate,
    map<U>(f: (v: T) => U): Value<U> {
      return makeValue(keys, (c) => f(evaluate(c)));
    },
  };
}

export class Key<T> implements Value<T> {
  readonly keys: readonly Key<unknown>[];
  constructor(readonly spec: KeySpec<T>) {
    if (!/^[a-z][a-z0-9-]*$/.test(spec.name)) throw new Error(`key name "${spec.name}" must be lower-case letters, digits and '-' (like "kv-ro")`);
    this.keys = [this as Key<unknown>];
  }
  get name(): string {
    return this.spec.name;
  }
  eval(c: KeyContext): T {
    return c.get(this);
  }
  map<U>(f: (v: T) => U): Value<U> {
    return makeValue(this.keys, (c) => f(c.get(this)));
  }
  format(v: T): string {
    return this.spec.format ? this.spec.format(v) : String(v);
  }
}

/** Combines several values: `all([a, b]).map(([x, y]) => …)`. */
export function all<T extends unknown[]>(values: { [K in keyof T]: Value<T[K]> }): Value<T> {
  const keys = [...new Set(values.flatMap((v) => v.keys))];
  return makeValue(keys, (c) => values.map((v) => v.eval(c)) as T);
}

export function pure<T>(v: T): Value<T> {
  return makeValue([], () => v);
}

/** A bad key value; `message` says what is expected. Recognised by name: config.ts runs with its own copy of this module. */
export class KeyParseError extends Error {
  override name = "KeyParseError";
}

function bad(expected: string): never {
  throw new KeyParseError(expected);
}

/** Constructors for user-defined configure keys. */
export const key = {
  string(o: { name: string; doc: string; default: string; env?: string }): Key<string> {
    return new Key({ ...o, expected: "a string", parse: (s) => s });
  },
  int(o: { name: string; doc: string; default: number; env?: string }): Key<number> {
    return new Key({
      ...o,
      expected: "an integer",
      parse: (s) => (/^-?\d+$/.test(s) ? Number(s) : bad("an integer")),
    });
  },
  flag(o: { name: string; doc: string; env?: string }): Key<boolean> {
    return new Key({
      ...o,
      default: false,
      flag: true,
      expected: "true or false",
      parse: (s) => (/^(true|1|yes)$/i.test(s) ? true : /^(false|0|no)$/i.test(s) ? false : bad("true or false")),
    });
  },
  enum<const V extends string>(o: { name: string; doc: string; values: readonly V[]; default: V; env?: string; aliases?: Record<string, V> }): Key<V> {
    const expected = `one of ${o.values.join(", ")}`;
    return new Key<V>({
      ...o,
      expected,
      parse: (s) => {
        const v = o.aliases?.[s] ?? s;
        return (o.values as readonly string[]).includes(v) ? (v as V) : bad(expected);
      },
    });
  },
};

export const TARGETS = ["unix"] as const;
export type TargetName = (typeof TARGETS)[number];

/** -t/--target: which platform the unikernel is built for. */
export const targetKey = new Key<TargetName>({
  name: "target",
  short: "t",
  env: "OASIS_TARGET",
  doc: "The platform to build for. unix: a Node.js program (kernel sockets, or Oasis's own stack over a TAP device).",
  default: "unix",
  expected: `one of ${TARGETS.join(", ")}`,
  parse: (s) => ((TARGETS as readonly string[]).includes(s) ? (s as TargetName) : bad(`one of ${TARGETS.join(", ")}`)),
});

/** --net: the host's kernel sockets or Oasis's own TCP/IP stack over a raw Ethernet device. */
export const netKey = key.enum({
  name: "net",
  doc: "Network stack: socket (the host kernel's, via Node sockets) or direct (Oasis's TypeScript stack over a TAP device). Default: socket on unix.",
  values: ["default", "socket", "direct"],
  default: "default",
  aliases: { host: "socket", ocaml: "direct", typescript: "direct" },
});

export const dhcpKey = key.flag({ name: "dhcp", doc: "Take an IPv4 address from a DHCP server instead of --ipv4 (direct stack only)." });

export const kvRoKey = key.enum({
  name: "kv-ro",
  doc: "Read-only key-value stores: crunch (embedded into the bundle at build time) or direct (read from the host directory at run time).",
  values: ["crunch", "direct"],
  default: "crunch",
});

export const blockKey = key.enum({
  name: "block",
  doc: "Block devices: file (a host file) or ramdisk (in memory).",
  values: ["file", "ramdisk"],
  default: "file",
});

export const isUnix: Value<boolean> = targetKey.map((t) => t === "unix");

const groupedKeys = new Map<string, Key<unknown>>();

/** The key `k` under a group prefix, e.g. grouped(kvRoKey, "data") is --data-kv-ro. Same group → same key. */
export function grouped<T>(k: Key<T>, group: string | undefined): Key<T> {
  if (!group) return k;
  const name = `${group}-${k.name}`;
  let g = groupedKeys.get(name) as Key<T> | undefined;
  if (!g) {
    g = new Key<T>({ ...k.spec, name, env: undefined, short: undefined, doc: `${k.spec.doc} (group ${group})` });
    groupedKeys.set(name, g as Key<unknown>);
  }
  return g;
}
