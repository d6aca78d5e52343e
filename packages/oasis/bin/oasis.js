#!/usr/bin/env node
// The tool is TypeScript. It runs from a bundle of its own sources (.bundle/cli.mjs), rebuilt with
// esbuild whenever one of those sources changed, so each command starts in milliseconds and no
// TypeScript loader is needed. The unikernels it builds need nothing of this.
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import { dirname, join, relative } from "node:path";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const out = join(root, ".bundle", "cli.mjs");
const manifest = join(root, ".bundle", "inputs.json");

function fresh() {
  if (!existsSync(out) || !existsSync(manifest)) return false;
  try {
    const inputs = JSON.parse(readFileSync(manifest, "utf8"));
    return inputs.every(([file, mtime]) => statSync(join(root, file)).mtimeMs === mtime);
  } catch {
    return false;
  }
}

if (!fresh()) {
  const esbuild = await import("esbuild");
  const r = await esbuild.build({
    entryPoints: [join(root, "src/tool/cli.ts")],
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    // Dependencies stay in node_modules; oasis's own modules (also those it imports by its own
    // package name, like oasis/random) are bundled.
    external: Object.keys(JSON.parse(readFileSync(join(root, "package.json"), "utf8")).dependencies ?? {}),
    write: false,
    metafile: true,
    logLevel: "silent",
  });
  mkdirSync(dirname(out), { recursive: true });
  const inputs = Object.keys(r.metafile.inputs).map((f) => {
    const rel = relative(root, join(process.cwd(), f));
    return [rel, statSync(join(root, rel)).mtimeMs];
  });
  // This launcher decides how the bundle is made: a change to it makes a new bundle too.
  inputs.push(["bin/oasis.js", statSync(fileURLToPath(import.meta.url)).mtimeMs]);
  // Written under temporary names and renamed: concurrent runs never see half a file.
  const tmp = `.${process.pid}.tmp`;
  writeFileSync(out + tmp, r.outputFiles[0].text);
  writeFileSync(manifest + tmp, JSON.stringify(inputs));
  renameSync(out + tmp, out);
  renameSync(manifest + tmp, manifest);
}

const { main } = await import(pathToFileURL(out).href);
process.exitCode = await main(process.argv.slice(2));
