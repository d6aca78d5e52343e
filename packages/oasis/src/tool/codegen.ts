// Writes the generated program: oasis/main.ts, readable on purpose — it is the wiring of the
// unikernel, one line per device, in dependency order.
import type { EvaluatedGraph, Instance } from "./graph.ts";
import type { Target } from "./targets.ts";
import type { DeviceNode, Json } from "../config/impl.ts";

/** Devices whose runtime module needs a native addon, by module#export. */
const NATIVE_ADDONS: Record<string, string[]> = { "oasis/net/phy#tapDevice": ["tap"] };

export function nativeAddonsOf(node: DeviceNode): string[] {
  return NATIVE_ADDONS[`${node.module}#${node.export}`] ?? [];
}

export interface Generated {
  /** Relative to the output directory (oasis/). */
  path: string;
  contents: string;
}

function record(fields: string[]): string {
  return fields.length ? `{ ${fields.join(", ")} }` : "{}";
}

function literal(v: Json): string {
  return JSON.stringify(v);
}

/** The module specifier of a crunched directory's data, relative to oasis/main.ts. */
export function crunchModule(dir: string): string {
  return `./crunch/${dir.replace(/[^a-zA-Z0-9_.-]/g, "_").replace(/^\.+/, "_")}.js`;
}

function importName(module: string, exp: string, used: Map<string, string>): string {
  const key = `${module}#${exp}`;
  let name = used.get(key);
  if (!name) {
    name = exp;
    let n = 2;
    while ([...used.values()].includes(name)) name = `${exp}_${n++}`;
    used.set(key, name);
  }
  return name;
}

export function generateMain(graph: EvaluatedGraph, target: Target, keysSummary: string): string {
  const imports = new Map<string, string>(); // module#export → local name
  const jobModules = new Map<string, string>(); // module path → local start name
  const dataImports: string[] = [];
  const declares: string[] = [];
  const lines: string[] = [];

  for (const inst of graph.instances) {
    if (inst.kind === "device") {
      const n = inst.node;
      const local = importName(n.module, n.export, imports);
      const opts: string[] = Object.entries(n.options).map(([k, v]) => `${JSON.stringify(k)}: ${literal(v)}`);
      for (const [opt, gen] of Object.entries(n.generated ?? {})) {
        const dataName = `${gen.generator}_${inst.id}`;
        dataImports.push(`import ${dataName} from ${JSON.stringify(crunchModule(gen.dir))};`);
        opts.push(`${JSON.stringify(opt)}: ${dataName}`);
      }
      declares.push(
        `const connect_${inst.varName} = ${local}.declare(${record(opts)}, { name: ${JSON.stringify(n.name)}, group: ${JSON.stringify(n.group)} });`,
      );
    } else if (!jobModules.has(inst.node.module)) {
      jobModules.set(inst.node.module, `start_${jobModules.size + 1}`);
    }
  }

  const depsRecord = (inst: Instance) =>
    record(Object.entries(inst.deps).map(([k, d]) => `${/^[A-Za-z_$][\w$]*$/.test(k) ? k : JSON.stringify(k)}: ${d.varName}`));

  const maxLevel = Math.max(0, ...graph.instances.map((i) => i.level));
  const devices = graph.instances.filter((i) => i.kind === "device");
  for (let level = 0; level <= maxLevel; level++) {
    const here = devices.filter((i) => i.level === level);
    if (here.length === 0) continue;
    const calls = here.map((i) => {
      const n = (i as Extract<Instance, { kind: "device" }>).node;
      return `connectDevice(${JSON.stringify(n.name)}, ${JSON.stringify(n.description)}, () => connect_${i.varName}(${depsRecord(i)}))`;
    });
    if (here.length === 1) lines.push(`  const ${here[0]!.varName} = await ${calls[0]};`);
    else lines.push(`  const [${here.map((i) => i.varName).join(", ")}] = await Promise.all([\n    ${calls.join(",\n    ")},\n  ]);`);
  }
  const starts = graph.jobs.map((j) => {
    const local = jobModules.get(j.node.module)!;
    const args = Object.keys(j.deps).length === 0 ? "" : depsRecord(j);
    return `${local}(${args}) satisfies Promise<void> | void`;
  });
  if (starts.length === 1) lines.push(`  await (${starts[0]});`);
  else if (starts.length > 1) lines.push(`  await Promise.all([\n    ${starts.join(",\n    ")},\n  ]);`);

  const importLines = [
    `import { run } from ${JSON.stringify(target.runtimeModule)};`,
    ...(devices.length ? [`import { connectDevice } from "oasis/runtime";`] : []),
  ];
  const byModule = new Map<string, string[]>();
  for (const [key, local] of imports) {
    const [module, exp] = key.split("#") as [string, string];
    const list = byModule.get(module) ?? [];
    list.push(exp === local ? exp : `${exp} as ${local}`);
    byModule.set(module, list);
  }
  for (const [module, names] of byModule) importLines.push(`import { ${names.join(", ")} } from ${JSON.stringify(module)};`);
  importLines.push(...dataImports);
  // Native addons travel inside the executable; this import hands them over before any device connects.
  const natives = new Set(devices.flatMap((i) => nativeAddonsOf((i as Extract<Instance, { kind: "device" }>).node)));
  for (const n of natives) importLines.push(`import "./native/${n}.js";`);
  for (const [module, local] of jobModules) importLines.push(`import { start as ${local} } from ${JSON.stringify(userModule(module))};`);

  return [
    `// Generated by \`oasis configure\` from config.ts. Do not edit: change config.ts and configure again.`,
    `// Target: ${target.name}. Keys: ${keysSummary}.`,
    ...importLines,
    ``,
    ...(declares.length ? [`// Devices declare their runtime arguments before the command line is parsed.`, ...declares, ``] : []),
    `run({ name: ${JSON.stringify(graph.name)}, version: ${JSON.stringify(graph.version)} }, async () => {`,
    ...lines,
    `});`,
    ``,
  ].join("\n");
}

/** A job module path as written in config.ts, seen from oasis/main.ts. */
export function userModule(module: string): string {
  const m = module.replace(/^\.\//, "");
  if (m.startsWith("/")) return m;
  return `../${m}`;
}
