// Runtime arguments: declared once, in the code that reads them (the unikernel or a device), and
// parsed together at boot. Reading one before boot is a programming error and throws.

export type Section = "unikernel" | "network" | "disk" | "logs" | "runtime";

export const SECTION_TITLES: Record<Section, string> = {
  unikernel: "UNIKERNEL ARGUMENTS",
  network: "NETWORK OPTIONS",
  disk: "DISK OPTIONS",
  logs: "LOG AND MONITORING OPTIONS",
  runtime: "RUNTIME OPTIONS",
};

interface Common {
  /** Long flag name without dashes: "hello" → --hello. */
  name: string;
  doc: string;
  section?: Section;
  /** Placeholder shown in --help, e.g. "PORT". */
  docv?: string;
  /** One-letter alias: "l" → -l. */
  short?: string;
}

export interface ArgSpec<T> extends Common {
  kind: string;
  parse: (text: string) => T;
  /** Text for --help: what a good value looks like. */
  expected: string;
  default?: T;
  required?: boolean;
  /** For booleans: the flag alone means true. */
  flag?: boolean;
  format?: (value: T) => string;
}

export class ArgumentError extends Error {}

interface Registered {
  spec: ArgSpec<unknown>;
  value: unknown;
  set: boolean;
}

const registry = new Map<string, Registered>();
const shorts = new Map<string, string>();
let parsed = false;

export type Reader<T> = () => T;

export function declare<T>(spec: ArgSpec<T> & { default: T }): Reader<T>;
export function declare<T>(spec: ArgSpec<T> & { required: true }): Reader<T>;
export function declare<T>(spec: ArgSpec<T>): Reader<T | undefined>;
export function declare<T>(spec: ArgSpec<T>): Reader<T | undefined> {
  if (!/^[a-z0-9][a-z0-9_-]*$/i.test(spec.name)) {
    throw new Error(`runtime argument name "${spec.name}" must be letters, digits, '-' or '_' (no leading dashes)`);
  }
  const existing = registry.get(spec.name);
  if (existing) {
    // Two devices of the same kind may read the same argument (Mirage shares them too).
    if (existing.spec.kind !== spec.kind) {
      throw new Error(`runtime argument --${spec.name} is declared twice with different types (${existing.spec.kind} and ${spec.kind})`);
    }
  } else {
    registry.set(spec.name, { spec: spec as ArgSpec<unknown>, value: spec.default, set: false });
    if (spec.short) shorts.set(spec.short, spec.name);
  }
  const name = spec.name;
  return () => {
    if (!parsed) throw new Error(`runtime argument --${name} was read before boot parsed the command line; read it inside start() or a device's connect`);
    return registry.get(name)!.value as T | undefined;
  };
}

type Opts<T> = Omit<Common, never> & { default?: T; required?: boolean };

function num(text: string, integer: boolean): number {
  const n = Number(text);
  if (text.trim() === "" || !Number.isFinite(n) || (integer && !Number.isInteger(n))) throw new ArgumentError();
  return n;
}

type CustomOpts<T> = Opts<T> & { parse: (text: string) => T; expected: string; format?: (v: T) => string };

function custom<T>(o: CustomOpts<T> & { default: T }): Reader<T>;
function custom<T>(o: CustomOpts<T> & { required: true }): Reader<T>;
function custom<T>(o: CustomOpts<T>): Reader<T | undefined>;
function custom<T>(o: CustomOpts<T>): Reader<T | undefined> {
  return declare<T>({ ...o, kind: `custom:${o.name}` });
}

/** Typed constructors for runtime arguments, e.g. `runtimeArg.string({ name: "hello", default: "Hello World!", doc: "How to say hello." })`. */
export const runtimeArg = {
  string<O extends Opts<string>>(o: O) {
    return declare<string>({ ...o, kind: "string", expected: "a string", parse: (s) => s }) as Reader<O extends { default: string } | { required: true } ? string : string | undefined>;
  },
  int<O extends Opts<number> & { min?: number; max?: number }>(o: O) {
    const range = o.min !== undefined || o.max !== undefined ? ` from ${o.min ?? "-∞"} to ${o.max ?? "∞"}` : "";
    return declare<number>({
      ...o,
      kind: "int",
      expected: `an integer${range}`,
      parse: (s) => {
        const n = num(s, true);
        if ((o.min !== undefined && n < o.min) || (o.max !== undefined && n > o.max)) throw new ArgumentError();
        return n;
      },
    }) as Reader<O extends { default: number } | { required: true } ? number : number | undefined>;
  },
  number<O extends Opts<number>>(o: O) {
    return declare<number>({ ...o, kind: "number", expected: "a number", parse: (s) => num(s, false) }) as Reader<
      O extends { default: number } | { required: true } ? number : number | undefined
    >;
  },
  bool(o: Omit<Common, never> & { default?: boolean }): Reader<boolean> {
    return declare<boolean>({
      ...o,
      default: o.default ?? false,
      kind: "bool",
      flag: true,
      expected: "true or false",
      parse: (s) => {
        if (/^(true|yes|1|on)$/i.test(s)) return true;
        if (/^(false|no|0|off)$/i.test(s)) return false;
        throw new ArgumentError();
      },
    });
  },
  enum<const V extends string, O extends Opts<V> & { values: readonly V[] }>(o: O) {
    return declare<V>({
      ...o,
      kind: `enum(${o.values.join("|")})`,
      expected: `one of ${o.values.join(", ")}`,
      parse: (s) => {
        if (!(o.values as readonly string[]).includes(s)) throw new ArgumentError();
        return s as V;
      },
    }) as Reader<O extends { default: V } | { required: true } ? V : V | undefined>;
  },
  /** Any type: `parse` throws (any error) on a bad value; `expected` says what a good one looks like. */
  custom,
};

export interface ParseOutcome {
  help: boolean;
  version: boolean;
}

/** Parses argv against every declared argument. Throws ArgumentError with a one-line message. */
export function parseArgs(argv: readonly string[]): ParseOutcome {
  const outcome = { help: false, version: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--help" || arg === "-h") {
      outcome.help = true;
      continue;
    }
    if (arg === "--version") {
      outcome.version = true;
      continue;
    }
    let name: string;
    let value: string | undefined;
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=");
      name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
      value = eq < 0 ? undefined : arg.slice(eq + 1);
    } else if (/^-[a-zA-Z]$/.test(arg) || /^-[a-zA-Z]=/.test(arg)) {
      const long = shorts.get(arg[1]!);
      if (!long) throw new ArgumentError(`unknown option ${arg.slice(0, 2)} (run with --help to list the options)`);
      name = long;
      value = arg.length > 2 ? arg.slice(3) : undefined;
    } else {
      throw new ArgumentError(`unexpected argument '${arg}': options are written --name=value (run with --help to list them)`);
    }
    const entry = registry.get(name);
    if (!entry) throw new ArgumentError(`unknown option --${name} (run with --help to list the options)`);
    const spec = entry.spec;
    if (value === undefined) {
      if (spec.flag && (i + 1 >= argv.length || !/^(true|false|yes|no|on|off|0|1)$/i.test(argv[i + 1]!))) {
        value = "true";
      } else if (i + 1 < argv.length) {
        value = argv[++i]!;
      } else {
        throw new ArgumentError(`option --${name} needs a value: ${spec.expected}`);
      }
    }
    try {
      entry.value = spec.parse(value);
      entry.set = true;
    } catch (e) {
      const why = e instanceof Error && e.message && !(e instanceof ArgumentError) ? ` (${e.message})` : "";
      throw new ArgumentError(`invalid value '${value}' for --${name}: expected ${spec.expected}${why}`);
    }
  }
  if (!outcome.help && !outcome.version) {
    for (const [name, entry] of registry) {
      if (entry.spec.required && !entry.set) throw new ArgumentError(`missing required option --${name}: ${entry.spec.expected}`);
    }
  }
  parsed = true;
  return outcome;
}

function wrap(text: string, width: number, indent: string): string {
  const words = text.split(/\s+/).filter(Boolean);
  const lines: string[] = [];
  let line = "";
  for (const w of words) {
    if (line && line.length + 1 + w.length > width) {
      lines.push(line);
      line = w;
    } else line = line ? `${line} ${w}` : w;
  }
  if (line) lines.push(line);
  return lines.map((l) => indent + l).join("\n");
}

/** The --help page: arguments grouped by section, each with its doc and default. */
export function usage(name: string, summary?: string): string {
  const out: string[] = [`NAME\n       ${name}${summary ? ` - ${summary}` : ""}`, `SYNOPSIS\n       ${name} [OPTION]…`];
  const order: Section[] = ["unikernel", "network", "disk", "logs", "runtime"];
  for (const section of order) {
    const entries = [...registry.values()].filter((e) => (e.spec.section ?? "unikernel") === section);
    if (entries.length === 0) continue;
    entries.sort((a, b) => a.spec.name.localeCompare(b.spec.name));
    const lines = [SECTION_TITLES[section]];
    for (const { spec } of entries) {
      const docv = spec.flag ? "" : `=${spec.docv ?? spec.kind.split("(")[0]!.replace(/^custom:.*/, "VALUE").toUpperCase()}`;
      const short = spec.short ? `-${spec.short}, ` : "";
      lines.push(`       ${short}--${spec.name}${docv}`);
      const fmt = spec.format ?? ((v: unknown) => (typeof v === "string" ? JSON.stringify(v) : String(v)));
      const dflt = spec.required ? " Required." : spec.default !== undefined ? ` Default: ${fmt(spec.default)}.` : "";
      lines.push(wrap(`${spec.doc}${/[.!?]$/.test(spec.doc) ? "" : "."} Expects ${spec.expected}.${dflt}`, 72, "           "));
    }
    out.push(lines.join("\n"));
  }
  out.push(
    "COMMON OPTIONS\n       -h, --help\n           Show this help and exit.\n       --version\n           Show the version and exit.",
  );
  return out.join("\n\n") + "\n";
}

/** For tests: forget every declared argument. */
export function resetArgsForTests(): void {
  registry.clear();
  shorts.clear();
  parsed = false;
}
