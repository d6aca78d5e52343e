// Building and running example unikernels in tests.
//
//   const { bin, dir } = await buildExample("examples/tutorial/hello-key", ["--net=socket"]);
//   const r = await runUnikernel(bin, ["--hello=Bonjour"], { timeoutMs: 20_000 });
//   assert.equal(r.code, 0);
//
//   const u = startUnikernel(bin, ["--port=0"]);          // long-running servers
//   await u.waitFor(/listening on port (\d+)/);            // resolves with the match
//   … talk to it …
//   await u.stop();                                         // SIGTERM, then SIGKILL after a grace period
//
// Each build happens in a private copy of the example under <repo>/.tmp/, so tests may build the
// same example with different keys at the same time; the copy is removed when the process exits.
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { createServer, type AddressInfo } from "node:net";
import { cpSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";

export const repoRoot = resolve(new URL("../..", import.meta.url).pathname);
const oasisBin = join(repoRoot, "packages/oasis/bin/oasis.js");
const made: string[] = [];
process.on("exit", () => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

export interface Completed {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** A TCP port free on this host right now (for a unikernel's --port on the socket stack). */
export async function freePort(): Promise<number> {
  const s = createServer().listen(0, "::");
  await once(s, "listening");
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** Runs a command to completion (or kills it after timeoutMs). Never rejects on a non-zero exit. */
export function runCommand(cmd: string, args: string[], options: { cwd?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv; input?: string } = {}): Promise<Completed> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 60_000);
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, stdout, stderr });
    });
    child.stdin.end(options.input ?? "");
  });
}

/** Runs the oasis tool. */
export function oasis(args: string[], options: { cwd: string; timeoutMs?: number }): Promise<Completed> {
  return runCommand(process.execPath, [oasisBin, ...args], { cwd: options.cwd, timeoutMs: options.timeoutMs ?? 120_000 });
}

/** Copies an example into a fresh directory inside the repository (so `oasis` resolves). */
export function copyExample(exampleDir: string): string {
  const src = resolve(repoRoot, exampleDir);
  const base = join(repoRoot, ".tmp");
  mkdirSync(base, { recursive: true });
  const dir = mkdtempSync(join(base, "build-"));
  made.push(dir);
  cpSync(src, dir, {
    recursive: true,
    filter: (p) => !/[/\\](oasis|dist|node_modules)$/.test(p),
  });
  return dir;
}

/** Configures (with `configureArgs`) and builds an example; throws with the tool's output on failure. */
export async function buildExample(exampleDir: string, configureArgs: string[] = []): Promise<{ dir: string; bin: string }> {
  const dir = copyExample(exampleDir);
  const conf = await oasis(["configure", "-t", "unix", ...configureArgs], { cwd: dir });
  if (conf.code !== 0) throw new Error(`oasis configure failed in ${exampleDir} (${conf.code}):\n${conf.stdout}${conf.stderr}`);
  const build = await oasis(["build"], { cwd: dir });
  if (build.code !== 0) throw new Error(`oasis build failed in ${exampleDir} (${build.code}):\n${build.stdout}${build.stderr}`);
  const name = /Built (\S+)/.exec(build.stdout)?.[1];
  if (!name) throw new Error(`oasis build printed no output file:\n${build.stdout}`);
  return { dir, bin: resolve(dir, name) };
}

/** Runs a built unikernel to completion. */
export function runUnikernel(bin: string, args: string[] = [], options: { cwd?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<Completed> {
  return runCommand(bin, args, { cwd: options.cwd, timeoutMs: options.timeoutMs ?? 60_000, env: options.env });
}

export interface Running {
  child: ChildProcess;
  /** Everything printed so far (stdout and stderr interleaved). */
  output(): string;
  /** Resolves with the first match of `re` in the output (waiting for it), rejects on exit or timeout. */
  waitFor(re: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Resolves with the exit code once the process has exited. */
  exited: Promise<number | null>;
  stop(): Promise<number | null>;
}

/** Starts a long-running unikernel (a server). Use `command` to run it through a wrapper such as `ip netns exec`. */
export function startUnikernel(bin: string, args: string[] = [], options: { cwd?: string; env?: NodeJS.ProcessEnv; command?: string[] } = {}): Running {
  const argv = [...(options.command ?? []), bin, ...args];
  const child = spawn(argv[0]!, argv.slice(1), { cwd: options.cwd, env: options.env ?? process.env, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  const waiters = new Set<() => void>();
  const onData = (d: Buffer) => {
    out += d.toString();
    for (const w of [...waiters]) w();
  };
  child.stdout!.on("data", onData);
  child.stderr!.on("data", onData);
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((r) =>
    child.on("close", (code) => {
      exitCode = code;
      for (const w of [...waiters]) w();
      r(code);
    }),
  );
  return {
    child,
    output: () => out,
    exited,
    waitFor(re, timeoutMs = 30_000) {
      return new Promise((resolvePromise, reject) => {
        const check = () => {
          const m = out.match(re);
          if (m) {
            done();
            resolvePromise(m);
          } else if (exitCode !== undefined) {
            done();
            reject(new Error(`unikernel exited (${exitCode}) before printing ${re}:\n${out}`));
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${re}; output so far:\n${out}`));
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    async stop() {
      if (exitCode === undefined) {
        child.kill("SIGTERM");
        const t = setTimeout(() => child.kill("SIGKILL"), 5000);
        await exited;
        clearTimeout(t);
      }
      return exitCode ?? null;
    },
  };
}
