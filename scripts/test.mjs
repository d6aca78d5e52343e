#!/usr/bin/env node
// Runs every *.test.ts under packages/ and examples/ with node:test (TypeScript through tsx).
// Extra arguments filter test files by substring: `npm test -- tcp block`.
import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const skip = new Set(["node_modules", "dist", ".git", "build"]);

function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    if (skip.has(name)) continue;
    const p = join(dir, name);
    // A unikernel's generated oasis/ folder (it has a context.json), not the oasis package.
    if (name === "oasis" && statSync(join(dir, name)).isDirectory() && readdirSync(p).includes("context.json")) continue;
    const st = statSync(p);
    if (st.isDirectory()) walk(p, out);
    else if (name.endsWith(".test.ts")) out.push(p);
  }
  return out;
}

const filters = process.argv.slice(2);
const files = walk(join(root, "packages"), [])
  .concat(walk(join(root, "examples"), []))
  .concat(walk(join(root, "test"), []))
  .map((f) => relative(root, f))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
if (files.length === 0) {
  console.error(`no test files match ${filters.join(" ")}`);
  process.exit(1);
}
const r = spawnSync(process.execPath, ["--import", "tsx", "--test", "--test-concurrency=2", "--test-reporter=spec", ...files], {
  cwd: root,
  stdio: "inherit",
});
process.exit(r.status ?? 1);
