import type { KvRo, Stack } from "oasis";
import { serve, staticFiles } from "oasis/http";
import { source } from "oasis/logs";
import { runtimeArg } from "oasis/runtime";

const log = source("static-website", "A static website");

const port = runtimeArg.int({ name: "port", default: 8080, min: 1, max: 65535, doc: "The TCP port of the web server." });

export async function start({ stack, htdocs }: { stack: Stack; htdocs: KvRo }): Promise<void> {
  const files = staticFiles(htdocs);
  serve(stack.tcp, port(), async (request) => {
    const response = await files(request);
    log.debug(() => `${request.remote?.address ?? "-"} ${request.method} ${request.target} ${response.status}`);
    return response;
  });
  log.info(`serving htdocs on http://localhost:${port()}/`);
  await stack.listen();
}
