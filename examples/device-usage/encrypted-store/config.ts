// oasis >= 0.1.0 & < 0.2.0
import { blockOfFile, ccmBlock, fatKvRw, gpt, kvRw, main, partition, register } from "oasis/config";

// A FAT file system, encrypted sector by sector with AES-CCM, in the GPT partition named "data"
// of the host file disk.img. The key is given at boot: --ccm-key=HEX.
const store = fatKvRw(ccmBlock(partition(gpt(blockOfFile("disk.img")), "data")));

register("encrypted-store", [main("./unikernel.ts", { store: kvRw })({ store })]);
