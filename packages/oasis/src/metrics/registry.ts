// The process-wide registry of metric sources, in the manner of OCaml's Metrics: a layer registers
// a source once (a name, tags telling instances apart, and a `collect` function), and whoever
// reads metrics (the monitoring device) pulls them. Pull-based on purpose: until something calls
// collectMetrics, a source is one map entry and its counters are never read or copied.
import { nowMs } from "oasis/ptime";
import { memoryFields } from "./memory.ts";

export type Tags = Readonly<Record<string, string>>;

export interface MetricsSourceOptions {
  doc: string;
  /** What tells this instance apart from others of the same name, e.g. { interface: "tap0" }. */
  tags?: Tags;
  /** Reads the current values. Called only when metrics are collected and the source is enabled. */
  collect: () => Record<string, number>;
  /**
   * Fields always sent as floats. Others are integers when their value is a safe integer, so a
   * ratio that happens to be whole would change type and InfluxDB would refuse the line.
   */
  floatFields?: readonly string[];
}

export interface MetricsSource {
  readonly name: string;
  readonly doc: string;
  readonly tags: Tags;
  readonly floatFields: ReadonlySet<string>;
  /** Whether collectMetrics reads it now (after every enable/disable rule). */
  enabled(): boolean;
  /** Takes the source out of the registry (its device is gone). */
  remove(): void;
}

export interface DataPoint {
  /** The source's name: the measurement in Influx terms. */
  name: string;
  tags: Tags;
  fields: Record<string, number>;
  /** Wall-clock time of the reading (oasis/ptime), milliseconds since the epoch. */
  timestampMs: number;
  floatFields: ReadonlySet<string>;
}

/** "*" (every source), a source name, or a tag: every source with that key (and that value, if given). */
export type MetricsSelector = "*" | { source: string } | { tag: string; value?: string };

interface Rule {
  selector: MetricsSelector;
  enable: boolean;
}

const NAME = /^[A-Za-z0-9_.-]+$/;

const sources = new Set<Entry>();
// In the order given; the last rule matching a source decides, so "tcp off, then tag iface=tap1
// on" reads as it was typed. A "*" rule makes every earlier rule moot and replaces them.
let rules: Rule[] = [];

class Entry implements MetricsSource {
  readonly floatFields: ReadonlySet<string>;
  constructor(
    readonly name: string,
    readonly doc: string,
    readonly tags: Tags,
    readonly collect: () => Record<string, number>,
    floats: readonly string[],
  ) {
    this.floatFields = new Set(floats);
  }
  enabled(): boolean {
    let on = true;
    for (const r of rules) if (matches(r.selector, this)) on = r.enable;
    return on;
  }
  remove(): void {
    sources.delete(this);
  }
}

function matches(sel: MetricsSelector, s: MetricsSource): boolean {
  if (sel === "*") return true;
  if ("source" in sel) return s.name === sel.source;
  return Object.hasOwn(s.tags, sel.tag) && (sel.value === undefined || s.tags[sel.tag] === sel.value);
}

/**
 * Registers a source. Names are letters, digits, '.', '_' and '-' (they become measurement names
 * and words of the control protocol); several sources may share a name when their tags differ.
 */
export function metricsSource(name: string, options: MetricsSourceOptions): MetricsSource {
  if (!NAME.test(name)) throw new Error(`metrics source name '${name}' must be letters, digits, '.', '_' or '-'`);
  const tags = Object.freeze({ ...(options.tags ?? {}) });
  for (const [k, v] of Object.entries(tags)) {
    if (k === "" || v === "") throw new Error(`metrics source '${name}': tag keys and values must not be empty (got ${JSON.stringify(k)}=${JSON.stringify(v)})`);
  }
  for (const s of sources) {
    if (s.name === name && sameTags(s.tags, tags)) {
      throw new Error(`metrics source '${name}'${formatTags(tags)} is registered twice; give each instance a distinguishing tag`);
    }
  }
  const entry = new Entry(name, options.doc, tags, options.collect, options.floatFields ?? []);
  sources.add(entry);
  return entry;
}

function sameTags(a: Tags, b: Tags): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}

function formatTags(tags: Tags): string {
  const list = Object.entries(tags);
  return list.length ? `{${list.map(([k, v]) => `${k}=${v}`).join(",")}}` : "";
}

/** Every registered source, in registration order. */
export function listMetricsSources(): MetricsSource[] {
  return [...sources];
}

/** Turns the selected sources on. Rules also apply to sources registered later. */
export function enableMetrics(selector: MetricsSelector): void {
  addRule({ selector, enable: true });
}

export function disableMetrics(selector: MetricsSelector): void {
  addRule({ selector, enable: false });
}

function addRule(rule: Rule): void {
  if (rule.selector === "*") rules = [rule];
  else rules = [...rules.filter((r) => !sameSelector(r.selector, rule.selector)), rule];
}

function sameSelector(a: MetricsSelector, b: MetricsSelector): boolean {
  if (a === "*" || b === "*") return a === b;
  if ("source" in a) return "source" in b && a.source === b.source;
  return "tag" in b && a.tag === b.tag && a.value === b.value;
}

/** The rules in force, oldest first (what `m` on the control port shows). */
export function metricsRules(): Array<{ selector: MetricsSelector; enable: boolean }> {
  return rules.map((r) => ({ ...r }));
}

/** Back to the initial state: everything enabled. */
export function resetMetricsRules(): void {
  rules = [];
}

export interface CollectFailure {
  source: MetricsSource;
  error: unknown;
}

/**
 * Reads every enabled source. A source whose collect throws is left out (and reported to
 * `onError`) rather than losing the others; non-finite values are left out because no collector
 * can store them.
 */
export function collectMetrics(onError?: (failure: CollectFailure) => void): DataPoint[] {
  const out: DataPoint[] = [];
  for (const s of sources) {
    if (!s.enabled()) continue;
    let raw: Record<string, number>;
    try {
      raw = s.collect();
    } catch (error) {
      onError?.({ source: s, error });
      continue;
    }
    const fields: Record<string, number> = {};
    for (const [k, v] of Object.entries(raw)) if (typeof v === "number" && Number.isFinite(v)) fields[k] = v;
    out.push({ name: s.name, tags: s.tags, fields, timestampMs: nowMs(), floatFields: s.floatFields });
  }
  return out;
}

// Built in, as mirage-solo5 registers "memory": the heap is what a long-running unikernel watches.
metricsSource("memory", { doc: "Process memory: resident set, V8 heap, buffers outside the heap (bytes)", collect: memoryFields });

/** `rxBytes` → `rx_bytes`: field names in the snake case collectors and dashboards expect. */
export function fieldName(camel: string): string {
  return camel.replace(/([a-z0-9])([A-Z])/g, "$1_$2").replace(/[^A-Za-z0-9_]+/g, "_").toLowerCase();
}
