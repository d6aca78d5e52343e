// Type-checks user code with the TypeScript compiler (the native `tsc` of TypeScript 7), so a
// wrong device in config.ts or a wrongly typed `start` is reported at the user's own line.
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

export interface Diagnostic {
  file: string;
  line: number;
  col: number;
  code: string;
  message: string;
}

function tscPath(): string {
  const require = createRequire(import.meta.url);
  const pkg = require.resolve("typescript/package.json");
  return join(dirname(pkg), "bin", "tsc");
}

const BASE_OPTIONS = {
  target: "es2022",
  module: "nodenext",
  moduleResolution: "nodenext",
  lib: ["es2023"],
  strict: true,
  noEmit: true,
  allowImportingTsExtensions: true,
  skipLibCheck: true,
  isolatedModules: true,
};

/** Writes a tsconfig for `files` into `dir` and runs tsc; resolves with its diagnostics. */
export async function typecheck(dir: string, name: string, files: string[], options: { types: string[]; conditions?: string[] }): Promise<Diagnostic[]> {
  mkdirSync(dir, { recursive: true });
  const configPath = join(dir, name);
  const config = {
    compilerOptions: { ...BASE_OPTIONS, types: options.types, ...(options.conditions?.length ? { customConditions: options.conditions } : {}) },
    files: files.map((f) => relative(dir, f)),
  };
  writeFileSync(configPath, JSON.stringify(config, null, 2) + "\n");
  const out = await new Promise<string>((resolvePromise, reject) => {
    const child = spawn(process.execPath, [tscPath(), "-p", configPath, "--pretty", "false"], { stdio: ["ignore", "pipe", "pipe"] });
    let text = "";
    child.stdout.on("data", (d) => (text += d));
    child.stderr.on("data", (d) => (text += d));
    child.on("error", reject);
    child.on("close", () => resolvePromise(text));
  });
  // tsc prints paths relative to its working directory, which is ours.
  return parseDiagnostics(out, process.cwd());
}

export function parseDiagnostics(out: string, baseDir: string): Diagnostic[] {
  const diags: Diagnostic[] = [];
  for (const line of out.split("\n")) {
    const m = /^(.+?)\((\d+),(\d+)\): error (TS\d+): (.*)$/.exec(line);
    if (m) {
      diags.push({ file: resolve(baseDir, m[1]!), line: Number(m[2]), col: Number(m[3]), code: m[4]!, message: m[5]! });
    } else if (/^\s+\S/.test(line) && diags.length) {
      diags[diags.length - 1]!.message += "\n" + line;
    } else if (/error TS\d+/.test(line)) {
      diags.push({ file: "", line: 0, col: 0, code: "TS", message: line.trim() });
    }
  }
  return diags;
}

export function formatDiagnostic(d: Diagnostic, cwd: string): string {
  const where = d.file ? `${relative(cwd, d.file) || d.file}:${d.line}:${d.col}: ` : "";
  return `${where}error ${d.code}: ${d.message}`;
}
