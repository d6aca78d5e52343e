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

/** A partition as `sfdisk --json` describes it (fields present depend on the table type). */
export interface SfdiskPart {
  node: string;
  start: number;
  size: number;
  type: string;
  uuid?: string;
  name?: string;
  bootable?: boolean;
}

/** The partition table of an image as sfdisk reads it: the independent witness in interop tests. */
export async function sfdiskJson(path: string): Promise<{ label: string; id: string; partitions: SfdiskPart[] }> {
  const r = await run("sfdisk", ["--json", path]);
  if (r.code !== 0) throw new Error(`sfdisk --json ${path} failed (${r.code}): ${r.stderr}`);
  return (JSON.parse(r.stdout) as { partitiontable: { label: string; id: string; partitions: SfdiskPart[] } }).partitiontable;
}
