// oasis >= 0.1.0 & < 0.2.0
import { defaultNetwork, genericKvRo, genericStackv4v6, kvRo, main, register, stackv4v6 } from "oasis/config";

// htdocs/ is embedded in the executable (--kv-ro=crunch, the default) or read from the host at
// run time (--kv-ro=direct). The network is the host's sockets unless configured --net=direct.
const htdocs = genericKvRo("htdocs");
const stack = genericStackv4v6(defaultNetwork);

register("static-website", [main("./unikernel.ts", { stack: stackv4v6, htdocs: kvRo })({ stack, htdocs })]);
