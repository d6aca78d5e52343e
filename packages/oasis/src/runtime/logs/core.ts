// Log sources with per-source levels, in the manner of OCaml's Logs: a library creates a source
// once (`logs.source("tcp")`), and `-l *:info,tcp:debug` at boot chooses what is printed.

export type Level = "app" | "error" | "warning" | "info" | "debug";
export type Threshold = Level | "quiet";

const RANK: Record<Threshold, number> = { quiet: 0, app: 1, error: 2, warning: 3, info: 4, debug: 5 };
const TAG: Record<Level, string> = { app: "APP", error: "ERR", warning: "WRN", info: "INF", debug: "DBG" };

export type Message = string | (() => string);

export interface Reporter {
  (level: Level, source: string, message: string): void;
}

export class Source {
  /** Rank of the most verbose level printed; cached so a disabled debug call costs one compare. */
  rank: number;
  constructor(
    readonly name: string,
    readonly doc: string,
  ) {
    this.rank = rankFor(name);
  }
  enabled(level: Level): boolean {
    return RANK[level] <= this.rank;
  }
  private emit(level: Level, msg: Message): void {
    if (RANK[level] > this.rank) return;
    reporter(level, this.name, typeof msg === "function" ? msg() : msg);
  }
  app(msg: Message): void {
    this.emit("app", msg);
  }
  error(msg: Message): void {
    this.emit("error", msg);
  }
  warn(msg: Message): void {
    this.emit("warning", msg);
  }
  info(msg: Message): void {
    this.emit("info", msg);
  }
  debug(msg: Message): void {
    this.emit("debug", msg);
  }
}

const sources = new Map<string, Source>();
let defaultThreshold: Threshold = "info";
const perSource = new Map<string, Threshold>();

function rankFor(name: string): number {
  return RANK[perSource.get(name) ?? defaultThreshold];
}

let write: (line: string) => void = (line) => console.log(line);

function timestamp(): string {
  return new Date().toISOString();
}

let reporter: Reporter = (level, source, message) => {
  write(`${timestamp()} ${TAG[level]} [${source}] ${message}`);
};

/** Installs where formatted lines go (the target's console). */
export function setWriter(w: (line: string) => void): void {
  write = w;
}

export function setReporter(r: Reporter): void {
  reporter = r;
}

/** Creates (or returns) the source of this name. */
export function source(name: string, doc = ""): Source {
  let s = sources.get(name);
  if (!s) {
    s = new Source(name, doc);
    sources.set(name, s);
  }
  return s;
}

export function parseThresholds(spec: string): Array<[string, Threshold]> {
  const out: Array<[string, Threshold]> = [];
  for (const part of spec.split(",").map((p) => p.trim()).filter(Boolean)) {
    const colon = part.lastIndexOf(":");
    const src = colon < 0 ? "*" : part.slice(0, colon);
    const level = (colon < 0 ? part : part.slice(colon + 1)).toLowerCase();
    const norm = level === "warn" ? "warning" : level;
    if (!(norm in RANK)) throw new Error(`unknown level '${level}' (app, error, warning, info, debug or quiet)`);
    out.push([src || "*", norm as Threshold]);
  }
  return out;
}

/** Applies a threshold list such as `*:info,tcp:debug`. */
export function setLevels(spec: Array<[string, Threshold]>): void {
  for (const [src, level] of spec) {
    if (src === "*") defaultThreshold = level;
    else perSource.set(src, level);
  }
  for (const s of sources.values()) s.rank = rankFor(s.name);
}

export function levels(): { default: Threshold; sources: Record<string, Threshold> } {
  return { default: defaultThreshold, sources: Object.fromEntries(perSource) };
}

export function listSources(): Source[] {
  return [...sources.values()];
}

export const logs = { source, setLevels, parseThresholds, setReporter, setWriter, levels, listSources };
