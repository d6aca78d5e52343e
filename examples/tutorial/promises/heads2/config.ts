// oasis >= 0.1.0 & < 0.2.0
import { main, register } from "oasis/config";

register("heads2", [main("./unikernel.ts")]);
