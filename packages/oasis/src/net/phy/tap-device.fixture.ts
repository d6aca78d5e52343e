// Run inside a namespace by device.test.ts: boots the tapDevice the way a generated main does
// (declare, parse the command line, connect), answers ARP and ping for 192.0.2.2 by hand, and
// runs the exit hooks on SIGTERM.
import { parseArgs } from "../../runtime/args.ts";
import { runExitHooks } from "../../runtime/hooks.ts";
import { macToString } from "./mac.ts";
import { tapDevice } from "./device.ts";
import { rawResponder } from "./fixtures/tap-responder/raw-responder.ts";

const connect = tapDevice.declare({ name: "tap0" }, { name: "net", group: "" });
parseArgs(process.argv.slice(2));
const net = await connect({});
const us = [192, 0, 2, 2];

net.listen(rawResponder(net, us));
process.on("SIGTERM", () => {
  void runExitHooks().then(() => process.exit(0));
});
console.log(`ready ${macToString(net.mac)}`);
