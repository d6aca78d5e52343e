#!/usr/bin/env node
// Builds the TAP addon (and the tap-blaster benchmark tool) with node-gyp; run by `npm ci` as the
// package's install script. Never fails the install: on other systems, or when the build breaks,
// it leaves native/build/UNAVAILABLE.txt saying why, and opening a TAP then throws
// NetError("unavailable") with that reason.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
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

// Installs run this often (every `npm i` in the workspace): skip the rebuild when nothing that
// goes into the binaries changed, so a running test never sees the addon vanish mid-rebuild.
const stampFile = join(buildDir, "stamp.txt");
const stamp = createHash("sha256")
  .update(["tap.c", "tap_blaster.c", "binding.gyp"].map((f) => readFileSync(join(here, f), "utf8")).join("\0"))
  .update(`${process.version} ${process.arch} ${process.versions.modules}`)
  .digest("hex");
const outputs = [join(buildDir, "Release", "oasis_tap.node"), join(buildDir, "Release", "tap-blaster")];
if (!process.argv.includes("--force") && outputs.every((f) => existsSync(f)) && existsSync(stampFile) && readFileSync(stampFile, "utf8").trim() === stamp) {
  console.log("oasis: the TAP addon is up to date (node native/build.mjs --force rebuilds it)");
  process.exit(0);
}

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
if (!outputs.every((f) => existsSync(f))) giveUp(`node-gyp finished but ${outputs.filter((f) => !existsSync(f)).join(" and ")} is missing`);
writeFileSync(stampFile, stamp + "\n");
console.log("oasis: built the TAP addon (native/build/Release/oasis_tap.node)");
