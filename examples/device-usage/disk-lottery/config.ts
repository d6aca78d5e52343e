// oasis >= 0.1.0 & < 0.2.0
import { block, blockOfFile, main, register } from "oasis/config";

register("disk-lottery", [main("./unikernel.ts", { disk: block })({ disk: blockOfFile("lottery.img") })]);
