// Reading config.ts: version check, type check, evaluation.
import { existsSync, readFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { pathToFileURL } from "node:url";
import * as esbuild from "esbuild";
import { takeRegistrations, type Registration } from "../config/impl.ts";
import { formatDiagnostic, typecheck } from "./typecheck.ts";
import { OASIS_VERSION, satisfies } from "./version.ts";

export class ToolError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

export interface Project {
  dir: string;
  configFile: string;
  /** Generated files go here (like Mirage's mirage/). */
  outDir: string;
  distDir: string;
}

export function project(dir: string, configFile = "config.ts"): Project {
  return { dir, configFile: join(dir, configFile), outDir: join(dir, "oasis"), distDir: join(dir, "dist") };
}

/** `// oasis >= 0.1.0 & < 0.2.0` on the first line of config.ts pins the Oasis versions it works with. */
export function checkVersion(p: Project): void {
  const first = readFileSync(p.configFile, "utf8").split("\n", 1)[0] ?? "";
  const m = /^\s*\/\/\s*oasis\s+(.+)$/.exec(first);
  if (!m) return;
  const constraint = m[1]!.trim();
  if (!satisfies(OASIS_VERSION, constraint)) {
    throw new ToolError(
      `${relative(process.cwd(), p.configFile) || "config.ts"}:1: this configuration requires oasis ${constraint}, but this is oasis ${OASIS_VERSION}; install a matching version (npm i oasis@…) or update the first line`,
    );
  }
}

export async function loadConfig(p: Project): Promise<Registration> {
  const shown = relative(process.cwd(), p.configFile) || p.configFile;
  if (!existsSync(p.configFile)) {
    throw new ToolError(`no ${shown} here (${p.dir}): a unikernel needs a config.ts declaring its devices; see examples/tutorial/hello, or pass -f FILE`);
  }
  checkVersion(p);
  const diags = await typecheck(p.outDir, "tsconfig.config.json", [p.configFile], { types: [] });
  if (diags.length) {
    throw new ToolError(`${shown} does not type-check:\n${diags.map((d) => formatDiagnostic(d, process.cwd())).join("\n")}`);
  }
  let code: string;
  try {
    const result = await esbuild.build({
      entryPoints: [p.configFile],
      absWorkingDir: p.dir,
      bundle: true,
      platform: "node",
      format: "esm",
      write: false,
      logLevel: "silent",
      sourcemap: "inline",
      packages: "bundle",
    });
    code = result.outputFiles[0]!.text;
  } catch (e) {
    const msgs = (e as { errors?: esbuild.Message[] }).errors ?? [];
    throw new ToolError(`cannot load ${shown}:\n${msgs.map((m) => `${m.location ? `${m.location.file}:${m.location.line}:${m.location.column}: ` : ""}${m.text}`).join("\n") || String(e)}`);
  }
  mkdirSync(p.outDir, { recursive: true });
  const evalFile = join(p.outDir, ".config.mjs");
  writeFileSync(evalFile, code);
  takeRegistrations();
  try {
    await import(`${pathToFileURL(evalFile).href}?t=${Date.now()}`);
  } catch (e) {
    throw new ToolError(`${shown} failed while running: ${e instanceof Error ? e.message : String(e)}`);
  }
  const regs = takeRegistrations();
  if (regs.length === 0) throw new ToolError(`${shown} never calls register(name, jobs): add e.g. register("hello", [main("./unikernel.ts")])`);
  if (regs.length > 1) throw new ToolError(`${shown} calls register ${regs.length} times (${regs.map((r) => r.name).join(", ")}); a config declares one unikernel`);
  return regs[0]!;
}
