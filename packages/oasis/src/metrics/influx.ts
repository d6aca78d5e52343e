// InfluxDB line protocol (what Telegraf's socket_listener and InfluxDB's UDP listener read):
//   measurement,tag=value,tag=value field=1i,field=2.5 1700000000000000000
// Escaping follows the protocol's reference: in measurements, commas and spaces; in tag keys, tag
// values and field keys, commas, equals signs and spaces; backslashes everywhere, so a value
// ending in one cannot swallow the separator after it. Newlines cannot be escaped at all and
// become spaces. Integers carry the `i` suffix; a field never written as an integer is a float.
import type { DataPoint, Tags } from "./registry.ts";

function escapeMeasurement(s: string): string {
  return s.replace(/[\r\n]/g, " ").replace(/[\\, ]/g, (c) => `\\${c}`);
}

function escapeKey(s: string): string {
  return s.replace(/[\r\n]/g, " ").replace(/[\\,= ]/g, (c) => `\\${c}`);
}

/** One field value: `12i` for safe integers (unless listed as a float field), else a float literal. */
export function formatFieldValue(v: number, asFloat = false): string {
  if (!asFloat && Number.isSafeInteger(v)) return `${v}i`;
  // String(v) gives "1e+21" or "0.1": both are floats to InfluxDB; a whole float keeps no suffix.
  return Object.is(v, -0) ? "0" : String(v);
}

/**
 * One line, without the newline; null when the point has nothing to send (no usable field: the
 * protocol has no line without fields). Tags are sorted by key, as InfluxDB recommends; `extra`
 * tags (such as vm=NAME) are added unless the point has the same key.
 */
export function encodeLine(point: DataPoint, extra: Tags = {}): string | null {
  const fields = Object.entries(point.fields)
    .filter(([k, v]) => k !== "" && Number.isFinite(v))
    .map(([k, v]) => `${escapeKey(k)}=${formatFieldValue(v, point.floatFields.has(k))}`);
  if (fields.length === 0 || point.name === "") return null;
  const tags = { ...extra, ...point.tags };
  const tagText = Object.keys(tags)
    .filter((k) => k !== "" && tags[k] !== "")
    .sort()
    .map((k) => `,${escapeKey(k)}=${escapeKey(tags[k]!)}`)
    .join("");
  const ns = BigInt(Math.round(point.timestampMs)) * 1_000_000n;
  return `${escapeMeasurement(point.name)}${tagText} ${fields.join(",")} ${ns}`;
}

/** Lines for many points, each ending in "\n". */
export function encodeLines(points: readonly DataPoint[], extra: Tags = {}): string[] {
  const out: string[] = [];
  for (const p of points) {
    const line = encodeLine(p, extra);
    if (line !== null) out.push(line + "\n");
  }
  return out;
}

/**
 * Groups lines into payloads of at most `max` bytes (UDP datagrams: one line is never split, a
 * line longer than `max` travels alone).
 */
export function packLines(lines: readonly string[], max: number): Uint8Array[] {
  const enc = new TextEncoder();
  const out: Uint8Array[] = [];
  let pending: Uint8Array[] = [];
  let size = 0;
  const flush = () => {
    if (pending.length === 0) return;
    const buf = new Uint8Array(size);
    let at = 0;
    for (const p of pending) {
      buf.set(p, at);
      at += p.length;
    }
    out.push(buf);
    pending = [];
    size = 0;
  };
  for (const line of lines) {
    const b = enc.encode(line);
    if (size + b.length > max) flush();
    pending.push(b);
    size += b.length;
  }
  flush();
  return out;
}
