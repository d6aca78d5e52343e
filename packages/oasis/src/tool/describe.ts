// `oasis describe` and `oasis query`: what the configuration is, for people and for scripts.
import type { Node } from "../config/impl.ts";
import type { Key, KeyContext } from "../config/key.ts";
import type { Registration } from "../config/impl.ts";
import { choose, type EvaluatedGraph } from "./graph.ts";
import { userModule } from "./codegen.ts";

export function describeText(name: string, target: string, keys: Key<unknown>[], ctx: KeyContext, given: (k: string) => boolean, graph: EvaluatedGraph | null): string {
  const width = 11;
  const pad = (s: string) => s.padEnd(width);
  const keyLines = keys.map((k) => `${k.name}=${k.format(ctx.get(k))}${given(k.name) ? "" : " (default)"}`);
  const out = [`${pad("Name")}${name}`, `${pad("Target")}${target}`, `${pad("Keys")}${keyLines.join(",\n" + " ".repeat(width))}`];
  if (graph) {
    const devs = graph.instances.map((i) =>
      i.kind === "device"
        ? `${i.node.typ} ${i.node.name}: ${i.node.description}${Object.keys(i.deps).length ? ` ← ${Object.values(i.deps).map((d) => d.varName).join(", ")}` : ""} [${i.varName}]`
        : `job ${i.node.module}${Object.keys(i.deps).length ? ` ← ${Object.values(i.deps).map((d) => d.varName).join(", ")}` : ""}`,
    );
    out.push(`${pad("Devices")}${devs.join("\n" + " ".repeat(width))}`);
  }
  return out.join("\n") + "\n";
}

function esc(s: string): string {
  return s.replace(/\\/g, "\\\\").replace(/"/g, '\\"');
}

/**
 * Graphviz of the device graph. Evaluated: the devices the keys chose. Not evaluated: choices
 * are circles with dotted branches, the branch the current keys take in bold (as Mirage draws them).
 */
export function describeDot(reg: Registration, ctx: KeyContext, graph: EvaluatedGraph, evaluated: boolean): string {
  const lines = [`digraph "${esc(reg.name)}" {`, `  rankdir=BT;`, `  node [fontname="Helvetica", fontsize=11];`];
  if (evaluated) {
    for (const i of graph.instances) {
      if (i.kind === "device") lines.push(`  ${i.varName} [shape=box, label="${esc(i.node.typ)}\\n${esc(i.node.name)}"];`);
      else lines.push(`  ${i.varName} [shape=diamond, label="${esc(userModule(i.node.module).replace(/^\.\.\//, ""))}\\nstart"];`);
      for (const [dep, d] of Object.entries(i.deps)) lines.push(`  ${i.varName} -> ${d.varName} [label="${esc(dep)}"];`);
    }
  } else {
    const ids = new Map<Node, string>();
    const visit = (n: Node): string => {
      const known = ids.get(n);
      if (known) return known;
      const id = `n${ids.size + 1}`;
      ids.set(n, id);
      switch (n.kind) {
        case "if":
        case "match": {
          const keys = (n.kind === "if" ? n.cond.keys : n.value.keys).map((k) => k.name).join(",");
          lines.push(`  ${id} [shape=circle, label="${esc(keys || "?")}"];`);
          const picked = choose(n, ctx);
          const branches: Array<[string, Node]> = n.kind === "if" ? [["true", n.then], ["false", n.else]] : [...n.cases.map(([v, b]) => [String(v), b] as [string, Node]), ["default", n.default]];
          for (const [label, b] of branches) {
            const target = visit(b);
            const chosen = choose(b, ctx) === picked;
            lines.push(`  ${id} -> ${target} [style=${chosen ? "bold" : "dotted"}, label="${esc(label)}"];`);
          }
          break;
        }
        case "device":
          lines.push(`  ${id} [shape=box, label="${esc(n.typ)}\\n${esc(n.name)}"];`);
          for (const [dep, d] of Object.entries(n.deps)) lines.push(`  ${id} -> ${visit(d)} [label="${esc(dep)}"];`);
          break;
        case "job":
          lines.push(`  ${id} [shape=diamond, label="${esc(n.module)}\\nstart"];`);
          for (const [dep, d] of Object.entries(n.deps)) lines.push(`  ${id} -> ${visit(d)} [label="${esc(dep)}"];`);
          break;
      }
      return id;
    };
    reg.jobs.forEach(visit);
  }
  lines.push("}");
  return lines.join("\n") + "\n";
}
