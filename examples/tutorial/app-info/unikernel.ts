import { buildInfo } from "oasis/runtime";
import { source } from "oasis/logs";

const log = source("app-info", "Prints what was bundled");

export async function start(): Promise<void> {
  const info = buildInfo();
  log.info(`${info.name} ${info.version} for target ${info.target}, built with oasis ${info.oasisVersion} at ${info.builtAt}`);
  log.info(`bundled packages: ${info.packages.map((p) => `${p.name}@${p.version}`).join(", ")}`);
  log.info(`${info.modules.length} modules:`);
  for (const m of info.modules) log.info(`  ${m}`);
}
