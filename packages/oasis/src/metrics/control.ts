// The control protocol of mirage-monitoring: one command per TCP connection, one line back.
//   L<thresholds>   set log levels, same syntax as -l:           L*:info,tcp:debug
//   l | l* | lA,B   log levels: overrides / every source / those
//   M<rules>        metric sources on or off:                   M*:disable,memory:enable
//                   (NAME:…, src:NAME:…, tag:KEY:…, tag:KEY=VALUE:…; enable|disable|on|off)
//   m | m* | mA,B   metric rules in force / every source / those
// Replies: `ok`, `ok: TEXT` or `error: WHY`. Listings use the syntax of the matching setter, so
// what `l*` prints can be sent back with `L`.
import { levels, listSources, parseThresholds, setLevels, type Threshold } from "oasis/logs";
import { disableMetrics, enableMetrics, listMetricsSources, metricsRules, type MetricsSelector, type MetricsSource } from "./registry.ts";

export function handleCommand(line: string): string {
  const cmd = line.replace(/\r?\n$/, "").trim();
  if (cmd === "") return "error: empty command (L, l, M or m; e.g. l* or Mmemory:disable)";
  const op = cmd[0]!;
  const arg = cmd.slice(1).trim();
  try {
    switch (op) {
      case "L":
        return setLogLevels(arg);
      case "l":
        return `ok: ${queryLogLevels(arg)}`;
      case "M":
        return setMetrics(arg);
      case "m":
        return `ok: ${queryMetrics(arg)}`;
      default:
        return `error: unknown command '${op}' (L sets log levels, l lists them, M enables or disables metrics, m lists them)`;
    }
  } catch (e) {
    return `error: ${(e as Error).message}`;
  }
}

function setLogLevels(arg: string): string {
  if (arg === "") throw new Error("L needs log thresholds, e.g. L*:info,tcp:debug");
  // Parsed as a whole first: a bad level anywhere changes nothing.
  setLevels(parseThresholds(arg));
  return "ok";
}

function names(arg: string): string[] {
  return arg
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}

function queryLogLevels(arg: string): string {
  const current = levels();
  const levelOf = (name: string): Threshold => current.sources[name] ?? current.default;
  if (arg === "") return [`*:${current.default}`, ...Object.entries(current.sources).map(([s, l]) => `${s}:${l}`)].join(",");
  const known = new Set([...listSources().map((s) => s.name), ...Object.keys(current.sources)]);
  if (arg === "*") return [`*:${current.default}`, ...[...known].sort().map((s) => `${s}:${levelOf(s)}`)].join(",");
  const wanted = names(arg);
  const unknown = wanted.filter((n) => !known.has(n));
  if (unknown.length) throw new Error(`unknown log source${unknown.length > 1 ? "s" : ""} ${unknown.join(", ")} (l* lists them)`);
  return wanted.map((s) => `${s}:${levelOf(s)}`).join(",");
}

function parseSwitch(word: string, item: string): boolean {
  switch (word.toLowerCase()) {
    case "enable":
    case "on":
      return true;
    case "disable":
    case "off":
      return false;
    default:
      throw new Error(`'${item}': expected enable or disable (on, off) after the last ':'`);
  }
}

function parseRule(item: string, sources: readonly MetricsSource[]): { selector: MetricsSelector; enable: boolean } {
  const last = item.lastIndexOf(":");
  if (last < 0) throw new Error(`'${item}': expected NAME:enable, src:NAME:enable, tag:KEY[=VALUE]:enable or *:enable (or disable)`);
  const enable = parseSwitch(item.slice(last + 1), item);
  const what = item.slice(0, last);
  if (what === "*") return { selector: "*", enable };
  if (what.startsWith("tag:")) {
    const spec = what.slice(4);
    const eq = spec.indexOf("=");
    const tag = eq < 0 ? spec : spec.slice(0, eq);
    const value = eq < 0 ? undefined : spec.slice(eq + 1);
    if (tag === "") throw new Error(`'${item}': a tag needs a key, e.g. tag:interface=tap0:disable`);
    if (!sources.some((s) => Object.hasOwn(s.tags, tag) && (value === undefined || s.tags[tag] === value))) {
      throw new Error(`no metrics source has the tag ${value === undefined ? tag : `${tag}=${value}`} (m* lists sources with their tags)`);
    }
    return { selector: value === undefined ? { tag } : { tag, value }, enable };
  }
  const source = what.startsWith("src:") ? what.slice(4) : what;
  if (!sources.some((s) => s.name === source)) {
    throw new Error(`unknown metrics source '${source}' (known: ${[...new Set(sources.map((s) => s.name))].join(", ") || "none"})`);
  }
  return { selector: { source }, enable };
}

function setMetrics(arg: string): string {
  const items = names(arg);
  if (items.length === 0) throw new Error("M needs rules, e.g. M*:disable,memory:enable");
  const sources = listMetricsSources();
  // Every rule checked before any applies: a typo leaves the state as it was.
  const rules = items.map((i) => parseRule(i, sources));
  for (const r of rules) (r.enable ? enableMetrics : disableMetrics)(r.selector);
  return "ok";
}

function formatSelector(sel: MetricsSelector): string {
  if (sel === "*") return "*";
  if ("source" in sel) return sel.source;
  return `tag:${sel.tag}${sel.value === undefined ? "" : `=${sel.value}`}`;
}

function formatSource(s: MetricsSource): string {
  const tags = Object.entries(s.tags);
  const suffix = tags.length ? `{${tags.map(([k, v]) => `${k}=${v}`).join(",")}}` : "";
  return `${s.name}${suffix}:${s.enabled() ? "enable" : "disable"}`;
}

function queryMetrics(arg: string): string {
  if (arg === "") {
    const rules = metricsRules();
    // No "*" rule yet: the default, every source enabled, is the first word.
    const shown = rules[0]?.selector === "*" ? rules : [{ selector: "*" as const, enable: true }, ...rules];
    return shown.map((r) => `${formatSelector(r.selector)}:${r.enable ? "enable" : "disable"}`).join(",");
  }
  const sources = listMetricsSources();
  if (arg === "*") return sources.map(formatSource).join(",");
  const wanted = names(arg);
  const unknown = wanted.filter((n) => !sources.some((s) => s.name === n));
  if (unknown.length) throw new Error(`unknown metrics source${unknown.length > 1 ? "s" : ""} ${unknown.join(", ")} (m* lists them)`);
  return sources.filter((s) => wanted.includes(s.name)).map(formatSource).join(",");
}
