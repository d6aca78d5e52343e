import type { Stack, TcpFlow } from "oasis";
import { source } from "oasis/logs";
import { metricsSource, type Monitoring } from "oasis/metrics";
import { runtimeArg } from "oasis/runtime";

const log = source("greeter", "The monitoring example's service");

const port = runtimeArg.int({ name: "port", default: 8080, min: 1, max: 65535, doc: "The TCP port where visitors are greeted." });

let visits = 0;
let bytesSent = 0;

// The service's own figures, next to memory, tcp and net: read only when monitoring collects them.
metricsSource("greeter", { doc: "Visits served and bytes sent", collect: () => ({ visits, bytes_sent: bytesSent }) });

/** Greets the visitor with its number and closes: something small worth watching. */
async function greet(flow: TcpFlow): Promise<void> {
  const n = ++visits;
  const reply = new TextEncoder().encode(`hello, visitor ${n}\n`);
  await flow.write(reply);
  bytesSent += reply.length;
  log.debug(`visitor ${n} from ${flow.remote.address}:${flow.remote.port}`);
  await flow.close();
}

export async function start({ stack, monitoring }: { stack: Stack; monitoring: Monitoring }): Promise<void> {
  stack.tcp.listen(port(), greet);
  const where = monitoring.target ? "metrics are pushed" : "metrics stay here";
  log.info(`greeting on port ${port()}; ${where}`);
  await stack.listen();
}
