// native/build.mjs runs as the package's install script: it must never fail the install.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";

const here = import.meta.dirname;
const work = mkdtempSync(join(tmpdir(), "oasis-native-"));
after(() => rmSync(work, { recursive: true, force: true }));

function copyOfSources(): string {
  const dir = mkdtempSync(join(work, "src-"));
  for (const f of ["build.mjs", "binding.gyp", "tap.c", "tap_blaster.c"]) copyFileSync(join(here, f), join(dir, f));
  return dir;
}

describe("native/build.mjs", { skip: process.platform === "linux" ? false : "builds only on Linux" }, () => {
  it("leaves a reason and exits 0 when the compiler fails", () => {
    const dir = copyOfSources();
    const r = spawnSync(process.execPath, [join(dir, "build.mjs")], { encoding: "utf8", env: { ...process.env, CC: "false", CXX: "false" } });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /TAP networking will be unavailable: building the TAP addon with node-gyp failed/);
    assert.match(readFileSync(join(dir, "build", "UNAVAILABLE.txt"), "utf8"), /node-gyp failed/);
    assert.ok(!existsSync(join(dir, "build", "Release", "oasis_tap.node")));
  });

  it("builds the addon and tap-blaster, then skips rebuilding when nothing changed", () => {
    const dir = copyOfSources();
    const first = spawnSync(process.execPath, [join(dir, "build.mjs")], { encoding: "utf8" });
    assert.equal(first.status, 0, first.stderr);
    assert.match(first.stdout, /built the TAP addon/);
    assert.ok(existsSync(join(dir, "build", "Release", "oasis_tap.node")));
    assert.ok(existsSync(join(dir, "build", "Release", "tap-blaster")));
    const second = spawnSync(process.execPath, [join(dir, "build.mjs")], { encoding: "utf8" });
    assert.match(second.stdout, /up to date/);
  });
});
