// `oasis build`: type-check the generated program with the user's code, then bundle it into one
// self-contained executable file (dist/NAME) with esbuild.
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative, sep } from "node:path";
import * as esbuild from "esbuild";
import type { BuildInfo } from "../runtime/info.ts";
import { configureProject, readContext, type Configured } from "./configure.ts";
import { writeCrunchData } from "./crunch.ts";
import { writeNativeEmbed } from "./native.ts";
import { ToolError, type Project } from "./load-config.ts";
import { targets } from "./targets.ts";
import { formatDiagnostic, typecheck, type Diagnostic } from "./typecheck.ts";
import { OASIS_VERSION } from "./version.ts";

export interface BuildResult {
  output: string;
  bytes: number;
  reconfigured: boolean;
}

/** Turns errors in the generated main into messages about the user's unikernel. */
function explain(d: Diagnostic, p: Project): string {
  const main = join(p.outDir, "main.ts");
  if (d.file !== main) return formatDiagnostic(d, process.cwd());
  const line = readFileSync(main, "utf8").split("\n")[d.line - 1] ?? "";
  if (/has no exported member 'start'|has no exported member named 'start'/.test(d.message)) {
    const mod = /from "(.+)"/.exec(line)?.[1]?.replace(/^\.\.\//, "") ?? "the unikernel module";
    return `${mod} must export a function \`start\` (export async function start(devices) { … }), as named in main(…) in config.ts`;
  }
  if (/Cannot find module '\.\.\/(.+?)'/.test(d.message)) {
    return `config.ts names ${/Cannot find module '\.\.\/(.+?)'/.exec(d.message)![1]} in main(…), but there is no such file`;
  }
  if (/^\s*(await|start_\d|\s*start_)/.test(line) || /start_\d+\(/.test(line)) {
    return `start does not accept the devices declared in config.ts (or does not return a Promise<void>):\n  ${d.message.replace(/\n/g, "\n  ")}`;
  }
  if (/has no exported member/.test(d.message)) {
    return `a device in config.ts has no implementation in this version of oasis: ${d.message}`;
  }
  return formatDiagnostic(d, process.cwd());
}

function packageOf(file: string, cache: Map<string, { name: string; version: string } | null>): { name: string; version: string } | null {
  let dir = dirname(file);
  const seen: string[] = [];
  while (dir !== dirname(dir)) {
    if (cache.has(dir)) {
      const r = cache.get(dir)!;
      seen.forEach((s) => cache.set(s, r));
      return r;
    }
    seen.push(dir);
    const pj = join(dir, "package.json");
    if (existsSync(pj)) {
      const j = JSON.parse(readFileSync(pj, "utf8")) as { name?: string; version?: string };
      if (j.name) {
        const r = { name: j.name, version: j.version ?? "0.0.0" };
        seen.forEach((s) => cache.set(s, r));
        return r;
      }
    }
    dir = dirname(dir);
  }
  seen.forEach((s) => cache.set(s, null));
  return null;
}

export async function buildProject(p: Project, options: { minify?: boolean; typecheck?: boolean } = {}): Promise<BuildResult> {
  let ctx = readContext(p);
  let reconfigured = false;
  let configured: Configured | undefined;
  const contextFile = join(p.outDir, "context.json");
  if (existsSync(p.configFile) && statSync(p.configFile).mtimeMs > statSync(contextFile).mtimeMs) {
    configured = await configureProject(p, ctx.args);
    ctx = configured.context;
    reconfigured = true;
  }
  const target = targets[ctx.target];
  const mainFile = join(p.outDir, "main.ts");
  if (!existsSync(mainFile)) throw new ToolError(`${relative(process.cwd(), mainFile)} is missing: run \`oasis configure\` again`);

  // Crunched directories are read now, so the bundle has the files as they are at build time.
  const mainSource = readFileSync(mainFile, "utf8");
  const crunchDirs = new Set<string>();
  for (const m of mainSource.matchAll(/"dir": ("(?:[^"\\]|\\.)*"), "data": crunch_\d+/g)) crunchDirs.add(JSON.parse(m[1]!) as string);
  for (const dir of crunchDirs) writeCrunchData(p.dir, p.outDir, dir);
  for (const m of mainSource.matchAll(/^import "\.\/native\/(\w+)\.js";$/gm)) writeNativeEmbed(p.outDir, m[1]!);

  if (options.typecheck !== false) {
    const diags = await typecheck(p.outDir, "tsconfig.json", [mainFile], { types: ["node"], conditions: target.conditions });
    if (diags.length) throw new ToolError(`the unikernel does not type-check:\n${diags.map((d) => explain(d, p)).join("\n")}`);
  }

  const placeholder = "__OASIS_BUILD_INFO_VALUE__";
  let result: esbuild.BuildResult<{ write: false; metafile: true }>;
  try {
    result = await esbuild.build({
      entryPoints: [mainFile],
      absWorkingDir: p.dir,
      bundle: true,
      platform: target.platform === "node" ? "node" : target.platform,
      format: target.format,
      target: "node20",
      conditions: target.conditions,
      minify: options.minify !== false,
      // Error class names (BlockError, KvError…) and stack frames stay readable in a minified bundle.
      keepNames: true,
      legalComments: "none",
      write: false,
      metafile: true,
      logLevel: "silent",
      define: { __OASIS_BUILD_INFO__: placeholder, ...(target.format === "cjs" ? { "import.meta.url": "__oasis_meta_url" } : {}) },
      banner: { js: target.banner },
    });
  } catch (e) {
    const msgs = (e as { errors?: esbuild.Message[] }).errors ?? [];
    throw new ToolError(
      `bundling failed:\n${msgs.map((m) => `${m.location ? `${relative(process.cwd(), join(p.dir, m.location.file))}:${m.location.line}:${m.location.column}: ` : ""}${m.text}`).join("\n") || String(e)}`,
    );
  }

  const cache = new Map<string, { name: string; version: string } | null>();
  const packages = new Map<string, string>();
  const modules: string[] = [];
  for (const input of Object.keys(result.metafile.inputs).sort()) {
    const abs = join(p.dir, input);
    const pkg = packageOf(abs, cache);
    if (pkg && pkg.name !== "oasis-workspace") packages.set(pkg.name, pkg.version);
    const nm = input.lastIndexOf(`node_modules${sep}`);
    modules.push(nm >= 0 ? input.slice(nm + 13) : relative(p.dir, abs).startsWith("..") && pkg ? `${pkg.name}/${relative(findRoot(abs, pkg.name), abs)}` : input);
  }
  const info: BuildInfo = {
    name: ctx.name,
    version: ctx.version,
    target: ctx.target,
    oasisVersion: OASIS_VERSION,
    packages: [...packages].map(([name, version]) => ({ name, version })),
    modules,
    builtAt: process.env.SOURCE_DATE_EPOCH ? new Date(Number(process.env.SOURCE_DATE_EPOCH) * 1000).toISOString() : new Date().toISOString(),
  };
  const text = result.outputFiles[0]!.text.split(placeholder).join(JSON.stringify(info));
  mkdirSync(p.distDir, { recursive: true });
  const output = join(p.distDir, target.outputName(ctx.name));
  writeFileSync(output, text);
  if (target.executable) chmodSync(output, 0o755);
  return { output, bytes: Buffer.byteLength(text), reconfigured };
}

function findRoot(file: string, pkgName: string): string {
  let dir = dirname(file);
  while (dir !== dirname(dir)) {
    const pj = join(dir, "package.json");
    if (existsSync(pj) && (JSON.parse(readFileSync(pj, "utf8")) as { name?: string }).name === pkgName) return dir;
    dir = dirname(dir);
  }
  return dirname(file);
}
