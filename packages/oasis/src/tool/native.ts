// Native addons inside a sealed executable: the build writes a module that hands the addon's
// bytes to its loader (which writes them once to a content-addressed temp file and loads it).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { OASIS_ROOT_PACKAGE_JSON } from "./version.ts";

// Where native/build.mjs leaves the addon (see net/phy/tap-addon.ts, which loads it).
const ADDONS: Record<string, { file: () => string; module: string; provide: string }> = {
  tap: { file: () => join(dirname(OASIS_ROOT_PACKAGE_JSON), "native", "build", "Release", "oasis_tap.node"), module: "oasis/net/phy", provide: "provideTapAddon" },
};

export function writeNativeEmbed(outDir: string, name: string): string {
  const addon = ADDONS[name];
  if (!addon) throw new Error(`unknown native addon '${name}'`);
  const dir = join(outDir, "native");
  mkdirSync(dir, { recursive: true });
  const out = join(dir, `${name}.js`);
  const file = addon.file();
  if (!existsSync(file)) {
    // Nothing to embed (not Linux, or the build failed): opening the device then says why.
    writeFileSync(out, `// The ${name} addon was not built on this machine (${file}); the device reports why at run time.\n`);
    return out;
  }
  const b64 = readFileSync(file).toString("base64");
  writeFileSync(out, `import { ${addon.provide} } from "${addon.module}";\n${addon.provide}(Uint8Array.from(atob("${b64}"), (c) => c.charCodeAt(0)));\n`);
  return out;
}
