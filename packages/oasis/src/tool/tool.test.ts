// The tool's promises to users: errors at their own line, clear messages, sealed output.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { rmSync } from "node:fs";
import { oasis, repoRoot, runCommand, runUnikernel } from "../../../../test/support/unikernel.ts";

const scratchDirs: string[] = [];
process.on("exit", () => scratchDirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function scratch(files: Record<string, string>): string {
  const base = join(repoRoot, ".tmp");
  mkdirSync(base, { recursive: true });
  const dir = mkdtempSync(join(base, "tool-"));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, ".."), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  scratchDirs.push(dir);
  return dir;
}

const HELLO = `import { source } from "oasis/logs";\nexport async function start(): Promise<void> { source("t").info("ran"); }\n`;

test("a Block where a Stack is expected is a type error at the line of config.ts", async () => {
  const dir = scratch({
    "config.ts": [
      `import { main, register, stackv4v6, blockOfFile } from "oasis/config";`,
      `const m = main("./unikernel.ts", { stack: stackv4v6 });`,
      `register("wrong", [`,
      `  m({ stack: blockOfFile("disk.img") }),`,
      `]);`,
      ``,
    ].join("\n"),
    "unikernel.ts": HELLO,
  });
  const r = await oasis(["configure", "-t", "unix"], { cwd: dir });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /config\.ts:4:\d+: error TS2322: Type 'Impl<"block">' is not assignable to type 'Impl<"stackv4v6">'/);
  assert.ok(!existsSync(join(dir, "oasis", "main.ts")), "nothing generated");
});

test("a missing config.ts is reported with what to do", async () => {
  const dir = scratch({ "unikernel.ts": HELLO });
  const r = await oasis(["configure"], { cwd: dir });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^oasis: no config\.ts here .*see examples\/tutorial\/hello/);
});

test("a config that requires another oasis version is refused", async () => {
  const dir = scratch({ "config.ts": `// oasis >= 9.0.0 & < 10.0.0\nimport { register } from "oasis/config";\nregister("x", []);\n` });
  const r = await oasis(["configure"], { cwd: dir });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /config\.ts:1: this configuration requires oasis >= 9\.0\.0 & < 10\.0\.0, but this is oasis \d/);
});

test("unknown keys and bad key values are usage errors (64)", async () => {
  const dir = scratch({ "config.ts": `import { main, register } from "oasis/config";\nregister("x", [main("./unikernel.ts")]);\n`, "unikernel.ts": HELLO });
  const unknown = await oasis(["configure", "--frobnicate=1"], { cwd: dir });
  assert.equal(unknown.code, 64);
  assert.match(unknown.stderr, /unknown option '--frobnicate=1'/);
  const badTarget = await oasis(["configure", "-t", "xen"], { cwd: dir });
  assert.equal(badTarget.code, 64);
  assert.match(badTarget.stderr, /invalid value 'xen' for --target: expected one of unix/);
});

test("a missing start export is explained", async () => {
  const dir = scratch({
    "config.ts": `import { main, register } from "oasis/config";\nregister("nostart", [main("./unikernel.ts")]);\n`,
    "unikernel.ts": `export async function begin(): Promise<void> {}\n`,
  });
  assert.equal((await oasis(["configure"], { cwd: dir })).code, 0);
  const r = await oasis(["build"], { cwd: dir });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /unikernel\.ts must export a function `start`/);
});

test("a start that does not accept the declared devices is explained", async () => {
  const dir = scratch({
    "config.ts": `import { main, register, kvRo, kvRwMem } from "oasis/config";\nregister("badstart", [main("./unikernel.ts", { store: kvRo })({ store: kvRwMem() })]);\n`,
    "unikernel.ts": `export async function start(devices: { store: number }): Promise<void> { void devices; }\n`,
  });
  assert.equal((await oasis(["configure"], { cwd: dir })).code, 0);
  const r = await oasis(["build"], { cwd: dir });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /start does not accept the devices declared in config\.ts/);
});

test("a device that fails to connect is named, with the reason, and exits 1", async () => {
  const dir = scratch({
    "config.ts": [
      `import { main, register, impl, block } from "oasis/config";`,
      `const broken = impl({ typ: block, name: "vault", description: "the vault disk", module: "../device.ts", export: "vaultDevice" });`,
      `register("failing", [main("./unikernel.ts", { disk: block })({ disk: broken })]);`,
      ``,
    ].join("\n"),
    "device.ts": [
      `import { defineDevice } from "oasis/runtime";`,
      `import type { Block } from "oasis";`,
      `export const vaultDevice = defineDevice({ declare: () => async (): Promise<Block> => { throw new Error("the vault is sealed"); } });`,
      ``,
    ].join("\n"),
    "unikernel.ts": `import type { Block } from "oasis";\nexport async function start(_: { disk: Block }): Promise<void> {}\n`,
  });
  assert.equal((await oasis(["configure"], { cwd: dir })).code, 0);
  const b = await oasis(["build"], { cwd: dir });
  assert.equal(b.code, 0, b.stderr);
  const r = await runUnikernel(join(dir, "dist", "failing"));
  assert.equal(r.code, 1);
  assert.match(r.stdout + r.stderr, /device 'vault' \(the vault disk\) failed to connect: the vault is sealed/);
});

test("an exception in start is logged with its stack and exits 1", async () => {
  const dir = scratch({
    "config.ts": `import { main, register } from "oasis/config";\nregister("throws", [main("./unikernel.ts")]);\n`,
    "unikernel.ts": `function deep(): never { throw new Error("boom at depth"); }\nexport async function start(): Promise<void> { deep(); }\n`,
  });
  assert.equal((await oasis(["configure"], { cwd: dir })).code, 0);
  assert.equal((await oasis(["build", "--no-minify"], { cwd: dir })).code, 0);
  const r = await runUnikernel(join(dir, "dist", "throws"));
  assert.equal(r.code, 1);
  assert.match(r.stdout, /ERR \[oasis\] start failed: Error: boom at depth\n\s+at deep/);
});

test("a unix bundle contains the unix variants and none of the others", async () => {
  const dir = scratch({
    "config.ts": `import { main, register } from "oasis/config";\nregister("variants", [main("./unikernel.ts")]);\n`,
    "unikernel.ts": [
      `import { sleep } from "oasis/sleep";`,
      `import { nowMs } from "oasis/mtime";`,
      `import { now } from "oasis/ptime";`,
      `import { randomBytes } from "oasis/random";`,
      `import { buildInfo } from "oasis/runtime";`,
      `import { source } from "oasis/logs";`,
      `export async function start(): Promise<void> { await sleep(1); source("v").info(\`\${nowMs() > 0} \${now().getTime() > 0} \${randomBytes(4).length}\`); source("v").info(buildInfo().modules.join(" ")); }`,
      ``,
    ].join("\n"),
  });
  assert.equal((await oasis(["configure"], { cwd: dir })).code, 0);
  assert.equal((await oasis(["build"], { cwd: dir })).code, 0);
  const r = await runUnikernel(join(dir, "dist", "variants"));
  assert.equal(r.code, 0, r.stderr);
  for (const v of ["sleep", "mtime", "ptime", "random", "argv", "logs"]) {
    assert.match(r.stdout, new RegExp(`runtime/${v}/unix\\.ts`), `${v}: unix implementation bundled`);
    assert.doesNotMatch(r.stdout, new RegExp(`runtime/${v}/mock\\.ts`), `${v}: mock implementation not bundled`);
  }
});

test("describe prints keys, and --dot renders with Graphviz", async () => {
  const dir = scratch({
    "config.ts": [
      `import { main, register, stackv4v6, kvRo, genericStackv4v6, genericKvRo, defaultNetwork } from "oasis/config";`,
      `register("site", [main("./unikernel.ts", { stack: stackv4v6, htdocs: kvRo })({ stack: genericStackv4v6(defaultNetwork), htdocs: genericKvRo("htdocs") })]);`,
      ``,
    ].join("\n"),
    "unikernel.ts": `export async function start(): Promise<void> {}\n`,
  });
  const d = await oasis(["describe", "--net=direct"], { cwd: dir });
  assert.equal(d.code, 0, d.stderr);
  assert.match(d.stdout, /^Name\s+site\nTarget\s+unix\nKeys\s+target=unix \(default\)/);
  assert.match(d.stdout, /net=direct\b(?! \(default\))/);
  assert.match(d.stdout, /kv-ro=crunch \(default\)/);
  assert.match(d.stdout, /network tap0/);
  for (const [flag, value] of [["--dhcp", "true"], ["--dhcp=true", "true"], ["--dhcp=false", "false"], ["--no-dhcp", "false"]]) {
    const r = await oasis(["describe", "--net=direct", flag!], { cwd: dir });
    assert.match(r.stdout, new RegExp(`dhcp=${value}`), `${flag}`);
  }
  const badFlag = await oasis(["describe", "--dhcp=maybe"], { cwd: dir });
  assert.equal(badFlag.code, 64, badFlag.stderr);
  assert.match(badFlag.stderr, /invalid value 'maybe' for --dhcp: expected true or false/);
  for (const extra of [[], ["--no-eval"]]) {
    const dot = await oasis(["describe", "--dot", ...extra], { cwd: dir });
    assert.equal(dot.code, 0, dot.stderr);
    const svg = await runCommand("dot", ["-Tsvg"], { input: dot.stdout });
    assert.equal(svg.code, 0, svg.stderr);
    assert.match(svg.stdout, /<svg/);
  }
});

test("query answers name, keys, files and main", async () => {
  const dir = scratch({ "config.ts": `import { main, register } from "oasis/config";\nregister("asked", [main("./unikernel.ts")]);\n`, "unikernel.ts": HELLO });
  assert.equal((await oasis(["query", "name"], { cwd: dir })).stdout, "asked\n");
  assert.match((await oasis(["query", "keys"], { cwd: dir })).stdout, /^--target=unix\n$/);
  assert.match((await oasis(["query", "files"], { cwd: dir })).stdout, /oasis\/main\.ts\n.*dist\/asked\n$/s);
  assert.equal((await oasis(["query", "main"], { cwd: dir })).code, 1);
  await oasis(["configure"], { cwd: dir });
  const main = await oasis(["query", "main"], { cwd: dir });
  assert.equal(main.stdout, readFileSync(join(dir, "oasis", "main.ts"), "utf8"));
  const bad = await oasis(["query", "colour"], { cwd: dir });
  assert.equal(bad.code, 64);
});

test("build after an edit of config.ts configures again with the same keys; clean removes the output", async () => {
  const dir = scratch({ "config.ts": `import { main, register } from "oasis/config";\nregister("first", [main("./unikernel.ts")]);\n`, "unikernel.ts": HELLO });
  assert.equal((await oasis(["configure"], { cwd: dir })).code, 0);
  await new Promise((r) => setTimeout(r, 20));
  writeFileSync(join(dir, "config.ts"), `import { main, register } from "oasis/config";\nregister("second", [main("./unikernel.ts")]);\n`);
  const b = await oasis(["build"], { cwd: dir });
  assert.equal(b.code, 0, b.stderr);
  assert.match(b.stdout, /configured again/);
  assert.ok(existsSync(join(dir, "dist", "second")));
  assert.equal((await oasis(["clean"], { cwd: dir })).code, 0);
  assert.ok(!existsSync(join(dir, "dist")) && !existsSync(join(dir, "oasis")));
});
