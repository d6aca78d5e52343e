#!/usr/bin/env node
// The tool is TypeScript run through tsx; the unikernels it builds do not need tsx (or anything).
import { register } from "tsx/esm/api";

register();
const { main } = await import("../src/tool/cli.ts");
process.exitCode = await main(process.argv.slice(2));
