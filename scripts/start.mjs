#!/usr/bin/env node
// `npm start`: configure, build and run the static website unikernel on http://localhost:8080
// (kernel sockets, htdocs embedded). Extra arguments go to the unikernel: `npm start -- --port=9090`.
import { spawnSync } from "node:child_process";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const example = join(root, "examples/applications/static-website");
const oasis = join(root, "packages/oasis/bin/oasis.js");
for (const args of [["configure", "-t", "unix"], ["build"]]) {
  const r = spawnSync(process.execPath, [oasis, ...args], { cwd: example, stdio: "inherit" });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
const r = spawnSync(join(example, "dist/static-website"), process.argv.slice(2), { cwd: example, stdio: "inherit" });
process.exit(r.status ?? 1);
