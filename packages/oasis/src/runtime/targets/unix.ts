// The unix target's main loop: Node's event loop. Runs the generated program, turns failures into
// exit codes (1 for a runtime failure), and runs exit hooks on SIGINT/SIGTERM.
import { parseBoot, afterBoot, type BootInfo } from "../boot.ts";
import { runExitHooks } from "../hooks.ts";
import { ConnectError } from "../device.ts";
import { argv } from "oasis/argv";
import { logs } from "oasis/logs";

const log = logs.source("oasis", "The Oasis runtime");

function describe(e: unknown): string {
  if (e instanceof ConnectError) return e.message;
  if (e instanceof Error) return e.stack ?? `${e.name}: ${e.message}`;
  return String(e);
}

async function exit(code: number): Promise<never> {
  await runExitHooks();
  process.exit(code);
}

export function run(info: BootInfo, main: () => Promise<void>): void {
  const boot = parseBoot(info, argv());
  if (boot.kind === "exit") {
    if (boot.stdout) process.stdout.write(boot.stdout);
    if (boot.stderr) process.stderr.write(boot.stderr);
    process.exitCode = boot.code;
    return;
  }
  const fail = (what: string) => (e: unknown) => {
    log.error(`${what}: ${describe(e)}`);
    void exit(1);
  };
  process.on("unhandledRejection", fail("unhandled promise rejection"));
  process.on("uncaughtException", fail("uncaught exception"));
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    process.once(sig, () => {
      log.info(`received ${sig}, shutting down`);
      void exit(sig === "SIGINT" ? 130 : 143);
    });
  }
  afterBoot()
    .then(main)
    .then(
      () => exit(0),
      (e) => {
        if (e instanceof ConnectError) log.error(e.message);
        else log.error(`start failed: ${describe(e)}`);
        return exit(1);
      },
    );
}
