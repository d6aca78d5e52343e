import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { describe, it } from "node:test";
import { tapAddonFile } from "./tap-addon.ts";

// Each case runs in a fresh node: the addon, once loaded, stays loaded for the process.
function inFreshNode(code: string, env: NodeJS.ProcessEnv = {}): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code], {
    cwd: import.meta.dirname,
    env: { ...process.env, ...env },
    encoding: "utf8",
  });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

const built = existsSync(tapAddonFile());

describe("TAP addon loading", () => {
  it("loads embedded addon bytes from a content-addressed temp file (sealed executables)", { skip: built ? false : "the addon is not built here" }, () => {
    const r = inFreshNode(`
      import { readFileSync } from "node:fs";
      import { createRequire } from "node:module";
      import { provideTapAddon, loadTapAddon } from "./tap-addon.ts";
      provideTapAddon(readFileSync(${JSON.stringify(tapAddonFile())}));
      const addon = loadTapAddon();
      const loaded = Object.keys(createRequire(import.meta.url).cache).filter((k) => k.endsWith(".node"));
      console.log(typeof addon.open, typeof addon.writeBatch, loaded.join(","));
    `);
    assert.equal(r.status, 0, r.out);
    assert.match(r.out, /^function function \/\S+\/oasis-addons\/oasis_tap-[0-9a-f]{16}\.node$/m);
  });

  it("says TAP networking is unavailable, and how to fix it, when the addon cannot be loaded", () => {
    const r = inFreshNode(
      `
      import { openTap } from "./tap.ts";
      try { openTap("tap0"); } catch (e) { console.log(e.name, e.code, e.message); }
    `,
      { OASIS_TAP_ADDON: "/nonexistent/oasis_tap.node" },
    );
    assert.match(r.out, /^NetError unavailable TAP networking is unavailable: loading \/nonexistent\/oasis_tap\.node \(from OASIS_TAP_ADDON\) failed \(Cannot find module[^\n]*\); rebuild it with `node .*native\/build\.mjs`$/m);
  });
});
