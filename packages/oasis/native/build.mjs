#!/usr/bin/env node
// Builds the TAP addon (and the tap-blaster benchmark tool) with node-gyp; run by `npm ci` as the
// package's install script. Never fails the install: on other systems, or when the build breaks,
// it leaves native/build/UNAVAILABLE.txt saying why, and opening a TAP then throws
// NetError("unavailable") with that reason.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const buildDir = join(here, "build");
const reasonFile = join(buildDir, "UNAVAILABLE.txt");

function giveUp(reason) {
  mkdirSync(buildDir, { recursive: true });
  writeFileSync(reasonFile, reason.trim() + "\n");
  console.warn(`oasis: TAP networking will be unavailable: ${reason.trim().split("\n")[0]}`);
  process.exit(0);
}

if (process.platform !== "linux") giveUp(`TAP devices are only supported on Linux (this is ${process.platform})`);

// node-gyp: the one npm passes to lifecycle scripts, else the copy bundled with npm.
const candidates = [
  process.env.npm_config_node_gyp,
  join(dirname(process.execPath), "..", "lib", "node_modules", "npm", "node_modules", "node-gyp", "bin", "node-gyp.js"),
].filter(Boolean);
const nodeGyp = candidates.find((p) => existsSync(p));
if (!nodeGyp) giveUp(`node-gyp was not found (looked at ${candidates.join(", ")}); install npm's node-gyp or set npm_config_node_gyp`);

// Use the headers installed next to this node when present, so no download is needed.
const prefix = join(dirname(process.execPath), "..");
const args = [nodeGyp, "rebuild", `--directory=${here}`];
if (existsSync(join(prefix, "include", "node", "node_api.h")) && existsSync(join(prefix, "include", "node", "common.gypi"))) {
  args.push(`--nodedir=${prefix}`);
}
rmSync(reasonFile, { force: true });
const r = spawnSync(process.execPath, args, { cwd: here, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
if (r.status !== 0) {
  const log = `${r.stdout ?? ""}\n${r.stderr ?? ""}`.trim().split("\n").slice(-30).join("\n");
  giveUp(`building the TAP addon with node-gyp failed (exit ${r.status ?? r.signal}); is a C compiler (gcc, make, python3) installed?\n${log}`);
}
if (!existsSync(join(buildDir, "Release", "oasis_tap.node"))) giveUp("node-gyp finished but build/Release/oasis_tap.node is missing");
console.log("oasis: built the TAP addon (native/build/Release/oasis_tap.node)");
