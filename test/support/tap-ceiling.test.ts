import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { netnsUnavailable, withNetns } from "./netns.ts";
import { measureTapRx, measureTapTx } from "./tap-ceiling.ts";

describe("measureTapRx", { skip: netnsUnavailable() }, () => {
  it("counts every blasted frame through the consumer and reports a rate", () =>
    withNetns(async (ns) => {
      let seen = 0;
      let lastSeq = -1;
      const r = await measureTapRx(ns, {
        frames: 20_000,
        frameSize: 100,
        batch: 64,
        onFrame: (f) => {
          const seq = new DataView(f.buffer, f.byteOffset).getUint32(14);
          assert.ok(seq > lastSeq);
          lastSeq = seq;
          assert.equal(f.length, 100);
          seen++;
        },
      });
      assert.equal(seen, 20_000);
      assert.equal(r.frames, 20_000);
      assert.ok(r.framesPerSecond > 1000 && Number.isFinite(r.framesPerSecond), JSON.stringify(r));
      assert.ok(Math.abs(r.bitsPerSecond - r.framesPerSecond * 800) < 1);
      assert.ok(r.readerCpuSeconds > 0);
    }));

  it("writes frames with each write path and has the kernel count every one", () =>
    withNetns(async (ns) => {
      for (const mode of ["write", "writeMany", "writePacked"] as const) {
        const r = await measureTapTx(ns, { frames: 5_000, mode, batch: 64, frameSize: 80 });
        assert.equal(r.frames, 5_000);
        assert.equal(r.batch, mode === "write" ? 1 : 64);
        assert.ok(r.framesPerSecond > 1000, JSON.stringify(r));
      }
    }));
});
