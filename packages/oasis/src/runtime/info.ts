// What the build knows about the unikernel, injected by `oasis build` (esbuild `define`).

export interface BuildInfo {
  name: string;
  version: string;
  target: string;
  oasisVersion: string;
  /** The packages bundled into the executable, with their versions. */
  packages: Array<{ name: string; version: string }>;
  /** Source modules bundled, relative to the project (node_modules paths shortened). */
  modules: string[];
  builtAt: string;
}

declare const __OASIS_BUILD_INFO__: BuildInfo | undefined;

const fallback: BuildInfo = {
  name: "unbundled",
  version: "0.0.0",
  target: "unix",
  oasisVersion: "0.0.0",
  packages: [],
  modules: [],
  builtAt: new Date(0).toISOString(),
};

export function buildInfo(): BuildInfo {
  return typeof __OASIS_BUILD_INFO__ !== "undefined" ? __OASIS_BUILD_INFO__ : fallback;
}
