// Targets are adapters (as Hono has one per runtime): each says how to bundle and run the same
// generated program. Adding a target means adding an entry here and a runtime/targets/<name>.ts;
// the DSL and user code do not change.
import type { TargetName } from "../config/key.ts";

export interface Target {
  name: TargetName;
  doc: string;
  /** Module exporting `run(info, main)`: the target's main loop. */
  runtimeModule: string;
  /** Package-export conditions that select the variant implementations (sleep, clocks, random, …). */
  conditions: string[];
  /** esbuild platform and output format. */
  platform: "node" | "neutral" | "browser";
  format: "cjs" | "esm";
  /** First line of the output file. */
  banner: string;
  /** Output file name for a unikernel called `name`. */
  outputName(name: string): string;
  executable: boolean;
}

export const targets: Record<TargetName, Target> = {
  unix: {
    name: "unix",
    doc: "A Node.js program: one executable JavaScript file that runs with only `node`.",
    runtimeModule: "oasis/runtime/unix",
    conditions: ["oasis-unix"],
    platform: "node",
    // CommonJS so the extension-less file runs outside any package.json; the `require` line makes
    // it run as well where a package.json says "type": "module" (then it is loaded as ESM).
    format: "cjs",
    // __oasis_meta_url stands for import.meta.url in the bundle: the executable's own location.
    banner:
      '#!/usr/bin/env node\nvar require = typeof process.getBuiltinModule === "function" ? process.getBuiltinModule : require;\n' +
      'var __oasis_meta_url = require("node:url").pathToFileURL(typeof __filename === "string" ? __filename : process.argv[1] || "").href;',
    outputName: (name) => name,
    executable: true,
  },
};
