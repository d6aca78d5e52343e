import type { Stack, TcpFlow } from "oasis";
import { source } from "oasis/logs";
import { runtimeArg } from "oasis/runtime";

const log = source("network", "The network example");

const port = runtimeArg.int({ name: "port", default: 8080, min: 1, max: 65535, doc: "The TCP port on which to listen for connections." });

/** Sends back everything the peer sends, until it closes its side. */
async function echo(flow: TcpFlow): Promise<void> {
  const peer = `${flow.remote.address}:${flow.remote.port}`;
  log.info(`new tcp connection from ${peer}`);
  let total = 0;
  for (let data = await flow.read(); data !== null; data = await flow.read()) {
    total += data.length;
    log.debug(() => `read ${data.length} bytes from ${peer}`);
    await flow.write(data);
  }
  log.info(`${peer} closed after ${total} bytes`);
  await flow.close();
}

export async function start({ stack }: { stack: Stack }): Promise<void> {
  stack.tcp.listen(port(), echo);
  log.info(`listening on port ${port()}`);
  await stack.listen();
}
