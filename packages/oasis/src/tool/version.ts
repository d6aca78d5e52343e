import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

// Resolved through the package's own name, so it holds wherever this module is bundled.
export const OASIS_ROOT_PACKAGE_JSON: string = createRequire(import.meta.url).resolve("oasis/package.json");

export const OASIS_VERSION: string = (JSON.parse(readFileSync(OASIS_ROOT_PACKAGE_JSON, "utf8")) as { version: string }).version;

function parse(v: string): number[] {
  const m = /^(\d+)(?:\.(\d+))?(?:\.(\d+))?/.exec(v.trim());
  if (!m) throw new Error(`'${v}' is not a version (expected e.g. 0.1.0)`);
  return [Number(m[1]), Number(m[2] ?? 0), Number(m[3] ?? 0)];
}

function compare(a: number[], b: number[]): number {
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}

/** Constraints like ">= 0.1.0 & < 0.2.0" (also "," or spaces between clauses, and "=" / "^"). */
export function satisfies(version: string, constraint: string): boolean {
  const v = parse(version);
  const clauses = constraint.split(/\s*[&,]\s*|\s+(?=[<>=^])/).map((c) => c.trim()).filter(Boolean);
  for (const clause of clauses) {
    const m = /^(>=|<=|>|<|=|\^)?\s*(.+)$/.exec(clause);
    if (!m) throw new Error(`cannot read version constraint '${clause}'`);
    const op = m[1] ?? "=";
    const w = parse(m[2]!);
    const c = compare(v, w);
    const ok =
      op === ">=" ? c >= 0 : op === "<=" ? c <= 0 : op === ">" ? c > 0 : op === "<" ? c < 0 : op === "=" ? c === 0 : c >= 0 && (w[0]! > 0 ? v[0] === w[0] : v[1] === w[1]);
    if (!ok) return false;
  }
  return true;
}
