// oasis >= 0.1.0 & < 0.2.0
import { register } from "oasis/config";

// A unikernel with no jobs: it boots, parses its arguments and exits.
register("noop", []);
