// Boot: parse every declared runtime argument, set up logs, honour --delay.
import { ArgumentError, parseArgs, runtimeArg, usage } from "./args.ts";
import { logs, parseThresholds, type Threshold } from "oasis/logs";
import { sleep } from "oasis/sleep";

const logLevels = runtimeArg.custom({
  name: "logs",
  short: "l",
  section: "logs",
  docv: "LEVEL",
  doc: "Log thresholds: a default level and per-source levels, e.g. *:info,tcp:debug. Levels are app, error, warning, info, debug and quiet",
  expected: "a list like *:info,tcp:debug",
  default: [] as Array<[string, Threshold]>,
  parse: parseThresholds,
  format: (v: Array<[string, Threshold]>) => (v.length ? v.map(([s, l]) => `${s}:${l}`).join(",") : "*:info"),
});

const delay = runtimeArg.number({
  name: "delay",
  section: "runtime",
  docv: "SECONDS",
  doc: "Wait this long before starting the devices (for hosts whose network comes up late)",
  default: 0,
});

export interface BootInfo {
  name: string;
  version: string;
  summary?: string;
}

export type BootResult = { kind: "run" } | { kind: "exit"; code: number; stdout?: string; stderr?: string };

/** Parses argv. Returns what to print and the exit code for --help, --version and bad usage. */
export function parseBoot(info: BootInfo, argv: readonly string[]): BootResult {
  try {
    const outcome = parseArgs(argv);
    if (outcome.help) return { kind: "exit", code: 0, stdout: usage(info.name, info.summary) };
    if (outcome.version) return { kind: "exit", code: 0, stdout: `${info.name} ${info.version}\n` };
  } catch (e) {
    if (e instanceof ArgumentError) return { kind: "exit", code: 64, stderr: `${info.name}: ${e.message}\n` };
    throw e;
  }
  logs.setLevels(logLevels());
  return { kind: "run" };
}

/** After a successful parse: waits --delay seconds. */
export async function afterBoot(): Promise<void> {
  const d = delay();
  if (d > 0) await sleep(d * 1000);
}
