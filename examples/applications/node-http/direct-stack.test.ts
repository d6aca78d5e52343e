// Hono on Node's http.Server over Oasis flows, on Oasis's own TCP/IP stack (--net=direct) over a
// TAP in a network namespace, with the kernel's curl as the client: GETs and POSTs of a few hundred
// KB (Content-Length and chunked) on one kept-alive connection, then uploads on parallel
// connections; every echoed body byte-exact, and no connection left half-closed afterwards. Then
// uploads over a congested link that drops packets both ways (tbf queues that overflow; this
// kernel has no netem), where both the kernel and the stack must retransmit.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { buildExample } from "../../../test/support/unikernel.ts";
import { netnsUnavailable, withNetns, type Netns } from "../../../test/support/netns.ts";

const site = "http://192.0.2.2";

/** Runs curl in the namespace with stdout to a file and the -w report (one line per transfer) parsed. */
async function curlTo(ns: Netns, name: string, args: string[]): Promise<{ body: Buffer; transfers: string[][] }> {
  const out = join(ns.tmpDir, `${name}.out`);
  const report = join(ns.tmpDir, `${name}.report`);
  const quoted = args.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(" ");
  await ns.exec("sh", ["-c", `curl -sS --max-time 60 ${quoted} > ${out} 2> ${report}`], { timeoutMs: 90_000 });
  const transfers = readFileSync(report, "utf8")
    .trim()
    .split("\n")
    .map((l) => l.split(" ", 3).concat(l.split(" ").slice(3).join(" ")).slice(0, 4));
  return { body: readFileSync(out), transfers };
}

/** `%{stderr}` keeps the per-transfer report apart from the bodies; -w applies to one --next group. */
const report = ["-w", "%{stderr}%{http_code} %{size_download} %{num_connects} %{content_type}\\n"];

/** Waits until the kernel has no socket to the unikernel other than TIME_WAIT; returns what is left. */
async function lingering(ns: Netns): Promise<string[]> {
  let left: string[] = [];
  for (let tries = 0; tries < 100; tries++) {
    const r = await ns.exec("ss", ["-Htan", "dst", "192.0.2.2"]);
    left = r.stdout.trim().split("\n").filter((l) => l && !l.startsWith("TIME-WAIT"));
    if (left.length === 0) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return left;
}

test("node-http on Oasis's stack (--net=direct): GET and POST of a few hundred KB on one kept-alive connection, parallel uploads, all byte-exact", { skip: netnsUnavailable() }, async () => {
  const { bin } = await buildExample("examples/applications/node-http", ["--net=direct"]);
  await withNetns(
    async (ns) => {
      const u = ns.run(bin, ["--ipv4=192.0.2.2/24", "--port=80"]);
      await u.waitFor(/Hono listening on port 80/, 30_000);

      const upload = randomBytes(384 * 1024 + 5);
      const chunked = randomBytes(256 * 1024 + 3);
      writeFileSync(join(ns.tmpDir, "upload.bin"), upload);
      writeFileSync(join(ns.tmpDir, "chunked.bin"), chunked);

      // One curl process: its transfers share one connection (options reset at each --next).
      const post = (file: string, type: string, extra: string[] = []) => ["--next", ...report, "--data-binary", `@${join(ns.tmpDir, file)}`, "-H", `content-type: ${type}`, ...extra, `${site}/echo`];
      const kept = await curlTo(ns, "kept-alive", [
        ...report,
        `${site}/`,
        `${site}/hello/direct`,
        ...post("upload.bin", "application/x-upload"),
        ...["--next", ...report, `${site}/whoami`],
        ...post("chunked.bin", "application/x-chunked", ["-H", "transfer-encoding: chunked"]),
        ...["--next", ...report, `${site}/hello/again`, `${site}/missing`],
      ]);
      const hello = "Hello from Hono on an Oasis unikernel\n";
      const greet = (name: string, visits: number) => JSON.stringify({ hello: name, visits });
      const notFound = "404 Not Found"; // Hono's default
      const expected = [hello, greet("direct", 1), upload, "192.0.2.1\n", chunked, greet("again", 2), notFound].map((e) => Buffer.from(e));
      const text = "text/plain; charset=UTF-8";
      const types = [text, "application/json", "application/x-upload", text, "application/x-chunked", "application/json", text];
      assert.deepEqual(
        kept.transfers.map(([status, size, , type]) => `${status} ${size} ${type}`),
        expected.map((e, i) => `${i === 6 ? 404 : 200} ${e.length} ${types[i]}`),
      );
      assert.ok(kept.body.equals(Buffer.concat(expected)), "the bodies differ from what was sent");
      const connects = kept.transfers.reduce((n, t) => n + Number(t[2]), 0);
      assert.equal(connects, 1, "every transfer on one kept-alive connection");

      // Uploads on 8 connections at once; each response is compared with its own request.
      const bodies = Array.from({ length: 16 }, (_, i) => randomBytes(100 * 1024 + i * 4099));
      const args = ["--parallel", "--parallel-max", "8"];
      bodies.forEach((b, i) => {
        const file = join(ns.tmpDir, `parallel-${i}.bin`);
        writeFileSync(file, b);
        args.push(...(i ? ["--next"] : []), "-sS", "--no-progress-meter", "--data-binary", `@${file}`, "-o", `${file}.echo`, ...report, `${site}/echo`);
      });
      const parallel = await curlTo(ns, "parallel", args);
      assert.equal(parallel.transfers.length, bodies.length, parallel.transfers.map((t) => t.join(" ")).join("\n"));
      assert.ok(parallel.transfers.every(([status]) => status === "200"), parallel.transfers.join("\n"));
      bodies.forEach((b, i) => assert.ok(readFileSync(join(ns.tmpDir, `parallel-${i}.bin.echo`)).equals(b), `parallel upload ${i} came back different`));
      assert.ok(parallel.transfers.reduce((n, t) => n + Number(t[2]), 0) > 1, "the uploads ran on several connections");

      assert.deepEqual(await lingering(ns), [], "kernel sockets to the unikernel not closed");
      await u.stop();
    },
    { kernelAddress: "192.0.2.1/24", timeoutMs: 120_000 },
  );
});

test("node-http on Oasis's stack over a congested link dropping packets both ways: uploads and their echoes byte-exact", { skip: netnsUnavailable() }, async () => {
  const { bin } = await buildExample("examples/applications/node-http", ["--net=direct"]);
  await withNetns(
    async (ns) => {
      const pcap = join(ns.tmpDir, "congested.pcap");
      const u = ns.run(bin, ["--ipv4=192.0.2.2/24", "--port=80", `--pcap=${pcap}`]);
      await u.waitFor(/Hono listening on port 80/, 30_000);
      const dropped = await ns.congest("20mbit");

      // Eight uploads at once, each on a connection of its own, competing for the bottleneck.
      const bodies = Array.from({ length: 8 }, (_, i) => randomBytes(400 * 1024 + i * 1013));
      const args = ["--parallel", "--parallel-immediate"];
      bodies.forEach((b, i) => {
        const file = join(ns.tmpDir, `congested-${i}.bin`);
        writeFileSync(file, b);
        args.push(...(i ? ["--next"] : []), "-sS", "--no-progress-meter", "--data-binary", `@${file}`, "-o", `${file}.echo`, ...report, `${site}/echo`);
      });
      const r = await curlTo(ns, "congested", args);
      assert.deepEqual(r.transfers.map(([status, size]) => `${status} ${size}`).sort(), bodies.map((b) => `200 ${b.length}`).sort());
      assert.equal(r.transfers.reduce((n, t) => n + Number(t[2]), 0), bodies.length, "one connection per upload");
      bodies.forEach((b, i) => assert.ok(readFileSync(join(ns.tmpDir, `congested-${i}.bin.echo`)).equals(b), `upload ${i} came back different`));
      const d = await dropped();
      assert.ok(d.toStack > 0 && d.fromStack > 0, `the link did not drop packets both ways (${JSON.stringify(d)}): the test did not test loss`);

      assert.deepEqual(await lingering(ns), [], "kernel sockets to the unikernel not closed");
      await u.stop();
      // The stack's own recording: it resent what it lost, with the same bytes at the same
      // sequence numbers (tshark compares overlapping segments while reassembling HTTP).
      const check = (filter: string) => ns.exec("tshark", ["-r", pcap, "-n", "-Y", filter, "-T", "fields", "-e", "frame.number"], { timeoutMs: 60_000 });
      assert.notEqual((await check("tcp.srcport == 80 && tcp.analysis.retransmission")).stdout.trim(), "", "the stack retransmitted nothing");
      assert.equal((await check("tcp.segment.overlap.conflict")).stdout.trim(), "", "retransmitted bytes differ from the originals");
    },
    { kernelAddress: "192.0.2.1/24", timeoutMs: 120_000 },
  );
});
