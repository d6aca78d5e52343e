import { writeSync } from "node:fs";
import { setWriter } from "./core.ts";

export * from "./core.ts";

// Synchronous writes: a unikernel that exits right after logging must not lose the line.
setWriter((line) => {
  const buf = Buffer.from(line + "\n");
  let off = 0;
  while (off < buf.length) {
    try {
      off += writeSync(1, buf, off);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EAGAIN") throw e;
    }
  }
});
