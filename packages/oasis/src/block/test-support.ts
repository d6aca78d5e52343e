// Helpers for block tests: temporary disk images and running the host's partitioning tools.
import { execFile } from "node:child_process";
import { mkdtemp, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before } from "node:test";

/** A private temp directory for this test file, removed afterwards; `image(bytes)` makes a zeroed file in it. */
export function tempImages(prefix: string): { image(bytes: number, name?: string): Promise<string>; dir(): string } {
  let dir = "";
  let n = 0;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), `oasis-${prefix}-`));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  return {
    dir: () => dir,
    async image(bytes, name) {
      const path = join(dir, name ?? `disk${n++}.img`);
      await writeFile(path, "");
      await truncate(path, bytes);
      return path;
    },
  };
}

/** Runs a host tool; resolves with its output and exit code (never rejects on a non-zero exit). */
export function run(cmd: string, args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { encoding: "utf8", maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err && typeof err.code !== "number") return reject(err);
      resolve({ code: err ? (err.code as number) : 0, stdout, stderr });
    });
    if (input !== undefined) child.stdin!.end(input);
  });
}
