// The `oasis` command line.
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { Command, CommanderError } from "commander";
import { collectKeys, evaluate, keyContext } from "./graph.ts";
import { configureProject, parseKeys, readContext } from "./configure.ts";
import { buildProject } from "./build.ts";
import { describeDot, describeText } from "./describe.ts";
import { loadConfig, project, ToolError, type Project } from "./load-config.ts";
import { targetKey } from "../config/key.ts";
import { targets } from "./targets.ts";
import { crunchModule } from "./codegen.ts";
import { OASIS_VERSION } from "./version.ts";
import { ccmCommand } from "./ccm.ts";

function rel(p: string): string {
  const r = relative(process.cwd(), p);
  return r === "" ? "." : r.startsWith("..") ? p : r.startsWith(".") ? r : `./${r}`;
}

function projectFrom(opts: { file?: string }): Project {
  const file = resolve(opts.file ?? "config.ts");
  return project(resolve(file, ".."), relative(resolve(file, ".."), file));
}

/** Keys for describe/query: those saved by configure, overridden by any given now. */
async function evaluateFor(p: Project, args: string[]) {
  const reg = await loadConfig(p);
  const keys = collectKeys(reg);
  const saved = existsSync(join(p.outDir, "context.json")) ? readContext(p).args : [];
  const { values, given } = parseKeys(keys, [...saved, ...args]);
  const ctx = keyContext(values);
  return { reg, keys, ctx, given, configured: saved.length > 0 || existsSync(join(p.outDir, "context.json")) };
}

export function program(): Command {
  const cli = new Command("oasis")
    .description("Oasis: build unikernels in TypeScript. Configure a unikernel from config.ts, build it into one executable file.")
    .version(OASIS_VERSION, "--version", "print the version of oasis")
    .showHelpAfterError("(run `oasis help` for the commands)")
    .exitOverride();

  cli
    .command("configure")
    .description("evaluate config.ts for a target and write oasis/main.ts (then run `oasis build`)")
    .option("-f, --file <file>", "configuration file", "config.ts")
    .option("-t, --target <target>", `target platform: ${Object.keys(targets).join(", ")}`)
    .allowUnknownOption()
    .allowExcessArguments()
    .helpOption("-h, --help", "show the keys config.ts accepts with `oasis describe`; this help lists the common ones")
    .addHelpText(
      "after",
      `
Keys (configure-time choices; config.ts may declare more — see \`oasis describe\`):
  --net=socket|direct     kernel sockets (default on unix) or Oasis's own TCP/IP stack over a TAP device
  --dhcp                  take the IPv4 address from DHCP (direct stack)
  --kv-ro=crunch|direct   embed read-only stores into the bundle, or read the host directory
  --block=file|ramdisk    back block devices by a host file or by memory`,
    )
    .action(async (opts: { file: string; target?: string }, cmd: Command) => {
      const started = performance.now();
      const p = projectFrom(opts);
      const keyArgs = [...(opts.target ? ["--target", opts.target] : []), ...cmd.args];
      const c = await configureProject(p, keyArgs);
      const ms = Math.round(performance.now() - started);
      const out = rel(join(p.distDir, c.target.outputName(c.context.name)));
      const cdHint = p.dir === process.cwd() ? "" : `cd ${rel(p.dir)} && `;
      process.stdout.write(
        `Configured ${c.context.name} for target ${c.target.name} in ${ms} ms: ${rel(join(p.outDir, "main.ts"))}\nNext: ${cdHint}npx oasis build   then run ${out} (--help lists its arguments)\n`,
      );
    });

  cli
    .command("build")
    .description("type-check and bundle the configured unikernel into dist/NAME, one executable file")
    .option("-f, --file <file>", "configuration file", "config.ts")
    .option("--no-minify", "keep the bundle readable")
    .option("--no-typecheck", "skip the type check (faster, errors show up at run time instead)")
    .action(async (opts: { file: string; minify: boolean; typecheck: boolean }) => {
      const started = performance.now();
      const p = projectFrom(opts);
      const r = await buildProject(p, { minify: opts.minify, typecheck: opts.typecheck });
      const ms = Math.round(performance.now() - started);
      process.stdout.write(
        `${r.reconfigured ? "config.ts changed: configured again with the same keys.\n" : ""}Built ${rel(r.output)} (${(r.bytes / 1024).toFixed(1)} KiB) in ${ms} ms. Run it: ${rel(r.output)}\n`,
      );
    });

  cli
    .command("describe")
    .description("show the unikernel's name, keys and devices; --dot prints the device graph for Graphviz")
    .option("-f, --file <file>", "configuration file", "config.ts")
    .option("--dot", "print the device graph in Graphviz dot syntax")
    .option("--eval", "draw the graph the keys choose (default)")
    .option("--no-eval", "draw every choice (if/match) with its branches")
    .option("-o, --output <file>", "write to a file instead of standard output")
    .allowUnknownOption()
    .allowExcessArguments()
    .action(async (opts: { file: string; dot?: boolean; eval: boolean; output?: string }, cmd: Command) => {
      const p = projectFrom(opts);
      const { reg, keys, ctx, given } = await evaluateFor(p, cmd.args);
      const graph = evaluate(reg, ctx);
      const text = opts.dot
        ? describeDot(reg, ctx, graph, opts.eval)
        : describeText(reg.name, ctx.get(targetKey), keys, ctx, (k) => given.has(k), graph);
      if (opts.output && opts.output !== "-") writeFileSync(opts.output, text);
      else process.stdout.write(text);
    });

  cli
    .command("query")
    .description("print one fact about the configuration: name, keys, packages, files or main")
    .argument("[info]", "name | keys | packages | files | main", "packages")
    .option("-f, --file <file>", "configuration file", "config.ts")
    .allowUnknownOption()
    .allowExcessArguments()
    .action(async (info: string, opts: { file: string }, cmd: Command) => {
      const p = projectFrom(opts);
      const choices = ["name", "keys", "packages", "files", "main"];
      if (!choices.includes(info)) throw new ToolError(`unknown query '${info}': choose one of ${choices.join(", ")}`, 64);
      const { reg, keys, ctx } = await evaluateFor(p, cmd.args.slice(1));
      const graph = evaluate(reg, ctx);
      let out = "";
      if (info === "name") out = `${reg.name}\n`;
      if (info === "keys") out = keys.map((k) => `--${k.name}=${k.format(ctx.get(k))}`).join("\n") + "\n";
      if (info === "packages") {
        const pkgs = new Set<string>([`oasis@${OASIS_VERSION}`]);
        for (const i of graph.instances) for (const pk of (i.kind === "device" ? i.node.packages : i.node.packages) ?? []) pkgs.add(pk);
        out = [...pkgs].sort().join("\n") + "\n";
      }
      if (info === "files") {
        const files = ["oasis/main.ts", "oasis/context.json", "oasis/tsconfig.json"];
        for (const i of graph.instances) {
          if (i.kind !== "device") continue;
          for (const g of Object.values(i.node.generated ?? {})) files.push(`oasis/${crunchModule(g.dir).slice(2)}`);
        }
        files.push(`dist/${targets[ctx.get(targetKey)].outputName(reg.name)}`);
        out = files.join("\n") + "\n";
      }
      if (info === "main") {
        const main = join(p.outDir, "main.ts");
        if (!existsSync(main)) throw new ToolError("not configured yet: run `oasis configure` first");
        out = readFileSync(main, "utf8");
      }
      process.stdout.write(out);
    });

  cli
    .command("clean")
    .description("remove what configure and build wrote (oasis/ and dist/)")
    .option("-f, --file <file>", "configuration file", "config.ts")
    .action((opts: { file: string }) => {
      const p = projectFrom(opts);
      for (const d of [p.outDir, p.distDir]) rmSync(d, { recursive: true, force: true });
      process.stdout.write(`Removed ${rel(p.outDir)}/ and ${rel(p.distDir)}/\n`);
    });

  cli.addCommand(ccmCommand());
  return cli;
}

export async function main(argv: string[]): Promise<number> {
  const cli = program();
  try {
    await cli.parseAsync(argv, { from: "user" });
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === "commander.helpDisplayed" || e.code === "commander.version" || e.code === "commander.help") return 0;
      return 64;
    }
    if (e instanceof ToolError) {
      process.stderr.write(`oasis: ${e.message}\n`);
      return e.exitCode;
    }
    process.stderr.write(`oasis: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    return 70;
  }
}
