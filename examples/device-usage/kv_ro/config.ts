// oasis >= 0.1.0 & < 0.2.0
import { genericKvRo, kvRo, main, register } from "oasis/config";

// `--kv-ro=crunch` (the default) embeds the directory t/ into the executable at build time;
// `--kv-ro=direct` reads t/ from the host at run time (relative to the working directory).
register("kv_ro", [main("./unikernel.ts", { store: kvRo })({ store: genericKvRo("t") })]);
