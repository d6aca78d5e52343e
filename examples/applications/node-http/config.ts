// oasis >= 0.1.0 & < 0.2.0
import { defaultNetwork, genericStackv4v6, main, register, stackv4v6 } from "oasis/config";

// A Hono application run by Node's http.Server over Oasis flows. Only the Tcp/Flow signatures are
// used, so the same code runs on kernel sockets (--net=socket) and on Oasis's TCP (--net=direct).
const stack = genericStackv4v6(defaultNetwork);

register("node-http", [main("./unikernel.ts", { stack: stackv4v6 }, { packages: ["hono", "@hono/node-server"] })({ stack })]);
