// npm run bench:tool — the developer loop and the boot of a sealed unikernel, against baselines
// measured in the same run: configure+build of the hello tutorial (target ≤ 2 s, type check
// included), the minified bundle size (target ≤ 50 KiB), and the time from process start to the
// first log line (target ≤ 60 ms) next to a bare `node -e "console.log()"`.
import { spawn, spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { join, resolve } from "node:path";

const root = resolve(new URL("../../..", import.meta.url).pathname);
const oasis = join(root, "packages/oasis/bin/oasis.js");
const runs = Number(process.env.RUNS ?? 15);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function timeToFirstOutput(cmd: string, args: string[]): Promise<number> {
  return new Promise((res, rej) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "inherit"] });
    let done = false;
    child.stdout.once("data", () => {
      done = true;
      res(performance.now() - t0);
      child.kill();
    });
    child.on("close", () => done || rej(new Error(`${cmd} printed nothing`)));
  });
}

function oasisRun(args: string[], cwd: string): number {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [oasis, ...args], { cwd, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`oasis ${args.join(" ")} failed:\n${r.stdout}${r.stderr}`);
  return performance.now() - t0;
}

mkdirSync(join(root, ".tmp"), { recursive: true });
const dir = mkdtempSync(join(root, ".tmp", "bench-tool-"));
try {
  cpSync(join(root, "examples/tutorial/hello"), dir, { recursive: true, filter: (p) => !/[/\\](oasis|dist)$/.test(p) });
  oasisRun(["--version"], dir); // the tool's own bundle is made once, like after npm ci
  const loops: number[] = [];
  for (let i = 0; i < Math.min(runs, 7); i++) {
    spawnSync("rm", ["-rf", join(dir, "oasis"), join(dir, "dist")]);
    loops.push(oasisRun(["configure", "-t", "unix"], dir) + oasisRun(["build"], dir));
  }
  const bin = join(dir, "dist", "hello");
  const size = statSync(bin).size;
  const boot: number[] = [];
  const bare: number[] = [];
  for (let i = 0; i < runs; i++) {
    bare.push(await timeToFirstOutput(process.execPath, ["-e", "console.log(1)"]));
    boot.push(await timeToFirstOutput(bin, []));
  }
  const rows: Array<[string, string, string, string]> = [
    ["configure + build hello (type check included)", `${(median(loops) / 1000).toFixed(2)} s`, "≤ 2 s", median(loops) <= 2000 ? "met" : "MISSED"],
    ["minified bundle of hello", `${(size / 1024).toFixed(1)} KiB`, "≤ 50 KiB", size <= 50 * 1024 ? "met" : "MISSED"],
    ["node -e console.log (baseline)", `${median(bare).toFixed(1)} ms`, "", ""],
    ["hello: start to first log line", `${median(boot).toFixed(1)} ms`, "≤ 60 ms", median(boot) <= 60 ? "met" : "MISSED"],
    ["  ratio to the bare node baseline", `${(median(boot) / median(bare)).toFixed(2)}×`, "", ""],
  ];
  const w = [46, 12, 10, 7];
  console.log(["measure", "value", "target", "result"].map((h, i) => h.padEnd(w[i]!)).join(" "));
  for (const r of rows) console.log(r.map((c, i) => c.padEnd(w[i]!)).join(" "));
  console.log(`(medians of ${runs} boots and ${loops.length} configure+build loops on ${process.platform}/${process.arch}, node ${process.version})`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
