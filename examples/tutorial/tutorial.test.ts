// End to end: configure, build and run every tutorial unikernel, checking what it prints.
import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildExample, runUnikernel } from "../../test/support/unikernel.ts";

function lines(out: string, tag: string): string[] {
  return out.split("\n").filter((l) => l.includes(` INF [${tag}] `)).map((l) => l.slice(l.indexOf("] ") + 2));
}

function times(out: string, tag: string): number[] {
  return out
    .split("\n")
    .filter((l) => l.includes(`[${tag}]`))
    .map((l) => Date.parse(l.slice(0, l.indexOf(" "))));
}

test("noop boots and exits 0", async () => {
  const { bin } = await buildExample("examples/tutorial/noop");
  const r = await runUnikernel(bin);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "");
});

test("hello logs hello 4 times about a second apart", async () => {
  const { bin } = await buildExample("examples/tutorial/hello");
  const r = await runUnikernel(bin);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(lines(r.stdout, "hello"), ["hello", "hello", "hello", "hello"]);
  const t = times(r.stdout, "hello");
  for (let i = 1; i < t.length; i++) assert.ok(t[i]! - t[i - 1]! >= 900, `gap ${t[i]! - t[i - 1]!} ms`);
});

test("hello-key says what --hello says, rejects unknown flags with 64, documents --hello", async () => {
  const { bin } = await buildExample("examples/tutorial/hello-key");
  const r = await runUnikernel(bin, ["--hello=Bonjour"]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(lines(r.stdout, "hello"), ["Bonjour", "Bonjour", "Bonjour", "Bonjour"]);

  const bad = await runUnikernel(bin, ["--nope"]);
  assert.equal(bad.code, 64);
  assert.equal(bad.stderr.trim().split("\n").length, 1);
  assert.match(bad.stderr, /--nope/);

  const help = await runUnikernel(bin, ["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--hello=STRING\n\s+How to say hello\..*Default: "Hello World!"/s);

  const badValue = await runUnikernel(bin, ["--logs=*:chatty"]);
  assert.equal(badValue.code, 64);
  assert.match(badValue.stderr, /--logs.*expected/);
});

test("the built executable runs alone in an empty folder", async () => {
  const { bin } = await buildExample("examples/tutorial/hello-key");
  const dir = mkdtempSync(join(tmpdir(), "oasis-alone-"));
  try {
    const copy = join(dir, "hello-key");
    copyFileSync(bin, copy);
    const r = await runUnikernel(copy, ["--hello=Alone"], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(lines(r.stdout, "hello").length, 4);
    assert.ok(lines(r.stdout, "hello").every((l) => l === "Alone"));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("app-info lists the bundled packages and modules", async () => {
  const { bin } = await buildExample("examples/tutorial/app-info");
  const r = await runUnikernel(bin);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /app-info 1\.0\.0 for target unix, built with oasis \d+\.\d+\.\d+/);
  assert.match(r.stdout, /bundled packages: .*oasis@\d/);
  assert.match(r.stdout, /oasis\/src\/runtime\/targets\/unix\.ts/);
  assert.match(r.stdout, /unikernel\.ts/);
  // Only what is used is bundled: no network or storage code in this one.
  assert.doesNotMatch(r.stdout, /src\/(net|block|kv|http)\//);
});

test("heads1 and heads2 print Heads, Tails, Finished in order", async () => {
  for (const name of ["heads1", "heads2"]) {
    const { bin } = await buildExample(`examples/tutorial/promises/${name}`);
    const r = await runUnikernel(bin);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(lines(r.stdout, name), ["Heads", "Tails", "Finished"], name);
    const t = times(r.stdout, name);
    assert.ok(t[1]! - t[0]! >= 800, `${name}: Tails ${t[1]! - t[0]!} ms after Heads`);
  }
});

test("timeout1 and timeout2 either return or cancel, once", async () => {
  for (const name of ["timeout1", "timeout2"]) {
    const { bin } = await buildExample(`examples/tutorial/promises/${name}`);
    for (let i = 0; i < 3; i++) {
      const r = await runUnikernel(bin);
      assert.equal(r.code, 0, r.stderr);
      const out = lines(r.stdout, name);
      assert.equal(out.length, 1, r.stdout);
      assert.match(out[0]!, /^(Cancelled|Returned.*\d+ ms)$/);
    }
  }
});

test("echo-server echoes --count lines of random length", async () => {
  const { bin } = await buildExample("examples/tutorial/echo-server");
  const r = await runUnikernel(bin, ["--count=6"]);
  assert.equal(r.code, 0, r.stderr);
  const out = lines(r.stdout, "echo-server");
  assert.equal(out.length, 6);
  out.forEach((l, i) => assert.match(l, new RegExp(`^echo ${i + 1}: a{1,20}$`)));
});
