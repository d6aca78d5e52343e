// `oasis configure`: evaluate config.ts with the keys, write oasis/main.ts and oasis/context.json.
import { mkdirSync, writeFileSync, readFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { Command, CommanderError } from "commander";
import type { Registration } from "../config/impl.ts";
import { Key, KeyParseError, targetKey, type TargetName } from "../config/key.ts";
import { collectKeys, ConfigError, evaluate, keyContext, type EvaluatedGraph } from "./graph.ts";
import { generateMain } from "./codegen.ts";
import { targets, type Target } from "./targets.ts";
import { loadConfig, ToolError, type Project } from "./load-config.ts";
import { writeCrunchDeclaration } from "./crunch.ts";
import { OASIS_VERSION } from "./version.ts";

export interface Context {
  name: string;
  version: string;
  target: TargetName;
  /** Every key of the graph: its value as text and whether it was given. */
  keys: Record<string, { value: string; given: boolean }>;
  /** The key arguments configure was called with, replayed when build reconfigures. */
  args: string[];
  oasisVersion: string;
}

export interface Configured {
  registration: Registration;
  graph: EvaluatedGraph;
  target: Target;
  context: Context;
  keys: Key<unknown>[];
  values: Map<string, unknown>;
}

/** Parses key flags (--net=direct, -t unix, user keys) against the keys config.ts uses. */
export function parseKeys(keys: Key<unknown>[], args: string[]): { values: Map<string, unknown>; given: Set<string> } {
  const cmd = new Command("oasis configure").exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} });
  cmd.allowExcessArguments(false);
  for (const k of keys) {
    // A flag alone means true; --dhcp=false and --no-dhcp turn it off.
    const flags = `${k.spec.short ? `-${k.spec.short}, ` : ""}--${k.name}${k.spec.flag ? " [bool]" : " <value>"}`;
    cmd.option(flags, k.spec.doc);
    if (k.spec.flag) cmd.option(`--no-${k.name}`);
  }
  try {
    cmd.parse(args, { from: "user" });
  } catch (e) {
    if (e instanceof CommanderError) {
      const msg = e.message.replace(/^error: /, "");
      throw new ToolError(`${msg}${/unknown option/.test(msg) ? " — config.ts declares no such key (see `oasis describe` for the keys)" : ""}`, 64);
    }
    throw e;
  }
  const opts = cmd.opts() as Record<string, unknown>;
  const values = new Map<string, unknown>();
  const given = new Set<string>();
  for (const k of keys) {
    const attr = k.name.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
    let raw = opts[attr];
    if (raw === undefined && k.spec.env && process.env[k.spec.env] !== undefined) raw = process.env[k.spec.env];
    if (raw === undefined) continue;
    given.add(k.name);
    if (typeof raw === "boolean") values.set(k.name, raw);
    else {
      try {
        values.set(k.name, k.spec.parse(String(raw)));
      } catch (e) {
        if (e instanceof KeyParseError || (e instanceof Error && e.name === "KeyParseError")) throw new ToolError(`invalid value '${String(raw)}' for --${k.name}: expected ${e.message}`, 64);
        throw e;
      }
    }
  }
  return { values, given };
}

export async function configureProject(p: Project, keyArgs: string[]): Promise<Configured> {
  const registration = await loadConfig(p);
  const keys = collectKeys(registration);
  const { values, given } = parseKeys(keys, keyArgs);
  const ctx = keyContext(values);
  const target = targets[ctx.get(targetKey)];
  let graph: EvaluatedGraph;
  try {
    graph = evaluate(registration, ctx);
  } catch (e) {
    if (e instanceof ConfigError) throw new ToolError(`config.ts: ${e.message}`);
    throw e;
  }
  const keyState: Context["keys"] = {};
  for (const k of keys) keyState[k.name] = { value: k.format(ctx.get(k)), given: given.has(k.name) };
  const context: Context = { name: registration.name, version: registration.version, target: target.name, keys: keyState, args: keyArgs, oasisVersion: OASIS_VERSION };

  mkdirSync(p.outDir, { recursive: true });
  for (const inst of graph.instances) {
    if (inst.kind !== "device") continue;
    for (const gen of Object.values(inst.node.generated ?? {})) writeCrunchDeclaration(p.outDir, gen.dir);
  }
  const summary = keys.map((k) => `${k.name}=${keyState[k.name]!.value}`).join(", ");
  writeFileSync(join(p.outDir, "main.ts"), generateMain(graph, target, summary));
  writeFileSync(join(p.outDir, "context.json"), JSON.stringify(context, null, 2) + "\n");
  return { registration, graph, target, context, keys, values };
}

export function readContext(p: Project): Context {
  const file = join(p.outDir, "context.json");
  if (!existsSync(file)) throw new ToolError(`not configured yet: run \`oasis configure -t unix\` in ${p.dir} first`);
  return JSON.parse(readFileSync(file, "utf8")) as Context;
}
