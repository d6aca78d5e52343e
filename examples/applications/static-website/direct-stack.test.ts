// The website on Oasis's own TCP/IP stack (--net=direct) over a TAP in a network namespace, with the
// Linux kernel's curl as the client: 1 000 keep-alive fetches on one connection and 200 fetches on
// a new connection each, every body byte-exact; 304 and 404; and afterwards every connection fully
// closed on both sides (the stack's own pcap shows both FINs acknowledged, `ss` shows nothing left
// but TIME_WAIT on the kernel side). Then the same over a congested link that drops packets both
// ways (this kernel has no netem: tbf queues that overflow), where the stack must retransmit.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { copyExample, oasis, repoRoot } from "../../../test/support/unikernel.ts";
import { netnsUnavailable, withNetns, type Netns } from "../../../test/support/netns.ts";

const htdocs = join(repoRoot, "examples/applications/static-website/htdocs");
const site = "http://192.0.2.2";

// The example's pages are all one segment long; a generated file crunched in with them makes
// responses that span many segments and need the peer's window to open.
const largeFile = "downloads/large.bin";
const large = randomBytes(300 * 1024 + 17);

/** The example with a large file added to its htdocs, configured with --net=direct and built (once). */
let built: Promise<string> | undefined;
function buildWebsite(): Promise<string> {
  built ??= build();
  return built;
}

async function build(): Promise<string> {
  const dir = copyExample("examples/applications/static-website");
  mkdirSync(join(dir, "htdocs/downloads"));
  writeFileSync(join(dir, "htdocs", largeFile), large);
  for (const args of [["configure", "-t", "unix", "--net=direct"], ["build"]]) {
    const r = await oasis(args, { cwd: dir });
    assert.equal(r.code, 0, `oasis ${args[0]}:\n${r.stdout}${r.stderr}`);
  }
  return join(dir, "dist/static-website");
}

/** URL path → expected body, for the example's own files and the large one. */
const pages: [string, Buffer][] = [
  ["/", readFileSync(join(htdocs, "index.html"))],
  ["/index.html", readFileSync(join(htdocs, "index.html"))],
  ["/style.css", readFileSync(join(htdocs, "style.css"))],
  ["/robots.txt", readFileSync(join(htdocs, "robots.txt"))],
  ["/images/logo.svg", readFileSync(join(htdocs, "images/logo.svg"))],
  ["/about/", readFileSync(join(htdocs, "about/index.html"))],
];

/** `count` paths cycling through the pages, with the large file every `largeEvery`th. */
function plan(count: number, largeEvery: number): [string, Buffer][] {
  return Array.from({ length: count }, (_, i) => (i % largeEvery === largeEvery - 1 ? [`/${largeFile}`, large] : pages[i % pages.length]!));
}

/**
 * One curl process fetching every path in order (bodies concatenated into one file, one
 * "status size connects" line per transfer); checks each transfer and the bodies byte for byte.
 * Returns how many connections curl opened in total.
 */
async function fetchAll(ns: Netns, name: string, paths: [string, Buffer][], extra: string[]): Promise<number> {
  const config = join(ns.tmpDir, `${name}.curlrc`);
  writeFileSync(config, paths.map(([p]) => `url = "${site}${p}"\n`).join(""));
  const bodies = join(ns.tmpDir, `${name}.bodies`);
  const report = join(ns.tmpDir, `${name}.report`);
  await ns.exec(
    "sh",
    ["-c", `curl -sS --fail-early --max-time 120 --config ${config} -w '%{stderr}%{http_code} %{size_download} %{num_connects}\\n' ${extra.join(" ")} > ${bodies} 2> ${report}`],
    { timeoutMs: 150_000 },
  );
  const lines = readFileSync(report, "utf8").trim().split("\n");
  assert.equal(lines.length, paths.length, `curl reported ${lines.length} transfers of ${paths.length}:\n${lines.slice(-5).join("\n")}`);
  let connects = 0;
  lines.forEach((line, i) => {
    const [status, size, opened] = line.split(" ");
    assert.equal(`${status} ${size}`, `200 ${paths[i]![1].length}`, `transfer ${i + 1} (${paths[i]![0]})`);
    connects += Number(opened);
  });
  const got = readFileSync(bodies);
  const want = Buffer.concat(paths.map(([, body]) => body));
  assert.equal(got.length, want.length, "total bytes received");
  // Locate the first differing transfer to make a failure readable.
  let offset = 0;
  for (const [i, [path, body]] of paths.entries()) {
    if (!got.subarray(offset, offset + body.length).equals(body)) assert.fail(`transfer ${i + 1} (${path}): the body differs from htdocs`);
    offset += body.length;
  }
  return connects;
}

interface Segment {
  stream: number;
  fromServer: boolean;
  syn: boolean;
  fin: boolean;
  rst: boolean;
  ack: number;
  nextSeq: number;
}

/** Every TCP segment in the stack's own pcap (relative sequence numbers, per tshark stream). */
async function segments(ns: Netns, pcap: string): Promise<Segment[]> {
  const fields = ["tcp.stream", "tcp.srcport", "tcp.flags.syn", "tcp.flags.fin", "tcp.flags.reset", "tcp.ack", "tcp.nxtseq"];
  const r = await ns.exec("tshark", ["-r", pcap, "-n", "-Y", "tcp", "-T", "fields", ...fields.flatMap((f) => ["-e", f])], { timeoutMs: 60_000 });
  const flag = (v: string | undefined) => v === "1" || v === "True";
  return r.stdout
    .trim()
    .split("\n")
    .map((line) => {
      const [stream, srcport, syn, fin, rst, ack, nextSeq] = line.split("\t");
      return { stream: Number(stream), fromServer: srcport === "80", syn: flag(syn), fin: flag(fin), rst: flag(rst), ack: Number(ack || 0), nextSeq: Number(nextSeq || 0) };
    });
}

/** The kernel's sockets to the website in any state but TIME_WAIT (ss lines). */
async function kernelSocketsNotClosed(ns: Netns): Promise<string[]> {
  const r = await ns.exec("ss", ["-Htan", "dst", "192.0.2.2"]);
  return r.stdout.trim().split("\n").filter((l) => l && !l.startsWith("TIME-WAIT"));
}

/** For each connection: both sides sent a FIN, each FIN was acknowledged, nobody reset. Returns the count. */
function checkAllClosed(all: Segment[]): number {
  const streams = new Map<number, Segment[]>();
  for (const s of all) streams.set(s.stream, [...(streams.get(s.stream) ?? []), s]);
  for (const [stream, segs] of streams) {
    assert.ok(segs.some((s) => s.syn && !s.fromServer), `stream ${stream} has no SYN from curl`);
    assert.ok(!segs.some((s) => s.rst), `stream ${stream} was reset`);
    for (const fromServer of [true, false]) {
      const side = fromServer ? "the stack" : "the kernel";
      const fin = segs.find((s) => s.fin && s.fromServer === fromServer);
      assert.ok(fin, `stream ${stream}: ${side} never sent a FIN`);
      const acked = segs.some((s) => s.fromServer !== fromServer && s.ack >= fin.nextSeq);
      assert.ok(acked, `stream ${stream}: ${side}'s FIN was never acknowledged`);
    }
  }
  return streams.size;
}

test("static-website on Oasis's stack (--net=direct): 1 000 keep-alive and 200 one-shot curl fetches byte-exact, 304, 404, every connection closed", { skip: netnsUnavailable() }, async () => {
  const bin = await buildWebsite();
  await withNetns(
    async (ns) => {
      const pcap = join(ns.tmpDir, "website.pcap");
      const u = ns.run(bin, ["--ipv4=192.0.2.2/24", "--port=80", `--pcap=${pcap}`]);
      await u.waitFor(/serving htdocs/, 30_000);

      // Keep-alive: curl reuses its one connection for all 1 000 transfers.
      const keptAlive = await fetchAll(ns, "keep-alive", plan(1000, 50), []);
      assert.equal(keptAlive, 1, "1 000 keep-alive transfers over one connection");

      // One connection per request: the server answers "connection: close" and closes first.
      const oneShot = await fetchAll(ns, "close", plan(200, 25), ["-H", "'Connection: close'"]);
      assert.equal(oneShot, 200, "a new connection for each of the 200 requests");

      const curl = (args: string[]) => ns.exec("curl", ["-sS", "--max-time", "20", ...args]);
      const home = await curl(["-i", `${site}/`]);
      const etag = /^etag: ("[^"]+")\r$/im.exec(home.stdout)?.[1];
      assert.ok(etag, `no ETag in:\n${home.stdout}`);
      const revalidated = await curl(["-i", "-H", `If-None-Match: ${etag}`, `${site}/`]);
      assert.match(revalidated.stdout, /^HTTP\/1\.1 304 Not Modified\r\n/);
      assert.ok(revalidated.stdout.endsWith("\r\n\r\n"), "a 304 has no body");
      const changed = await curl(["-o", "/dev/null", "-w", "%{http_code}", "-H", 'If-None-Match: "not-the-etag"', `${site}/`]);
      assert.equal(changed.stdout, "200");
      const missing = await curl(["-o", "/dev/null", "-w", "%{http_code}", `${site}/no/such/page.html`]);
      assert.equal(missing.stdout, "404");

      // The kernel side: curl has exited, so anything left other than TIME_WAIT (FIN_WAIT_2,
      // LAST_ACK, CLOSE_WAIT…) would mean a FIN the stack did not send or did not acknowledge.
      // The last close may still be in flight: poll until it settles (or give up after 10 s).
      let lingering: string[] = [];
      for (let tries = 0; tries < 100 && (lingering = await kernelSocketsNotClosed(ns)).length > 0; tries++) await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(lingering, [], "kernel sockets to the website not closed");

      await u.stop();
      assert.doesNotMatch(u.output(), /handler-error|failed on the connection/, u.output());
      // The stack's own report at exit (non-zero counters only): no connection left half-open.
      const report = /counters: (.*)/.exec(u.output())?.[1] ?? "";
      assert.doesNotMatch(report, /\b(SYN_SENT|SYN_RECEIVED|ESTABLISHED|CLOSE_WAIT|FIN_WAIT_1|FIN_WAIT_2|CLOSING|LAST_ACK)=/, report);

      // The stack's side, from its own recording: 1 + 200 + the four single requests above.
      const closed = checkAllClosed(await segments(ns, pcap));
      assert.equal(closed, 1 + 200 + 4);
    },
    { kernelAddress: "192.0.2.1/24", timeoutMs: 180_000 },
  );
});

test("static-website on Oasis's stack over a congested link dropping packets both ways: large downloads byte-exact, retransmissions carry the original bytes", { skip: netnsUnavailable() }, async () => {
  const bin = await buildWebsite();
  await withNetns(
    async (ns) => {
      const pcap = join(ns.tmpDir, "congested.pcap");
      const u = ns.run(bin, ["--ipv4=192.0.2.2/24", "--port=80", `--pcap=${pcap}`]);
      await u.waitFor(/serving htdocs/, 30_000);
      const dropped = await ns.congest("20mbit");

      // Mostly the large file, so the stack sends long bursts that overflow the queue.
      assert.equal(await fetchAll(ns, "congested-keep-alive", plan(24, 2), []), 1);
      assert.equal(await fetchAll(ns, "congested-close", plan(24, 2), ["-H", "'Connection: close'"]), 24);
      const d = await dropped();
      assert.ok(d.fromStack > 0, `the link dropped nothing the stack sent (${JSON.stringify(d)}): the test did not test loss`);

      // What the kernel sees has no gaps left, per curl; the stack's own recording shows it
      // resent what was lost, with the same bytes at the same sequence numbers.
      const check = (filter: string) => ns.exec("tshark", ["-r", pcap, "-n", "-Y", filter, "-T", "fields", "-e", "frame.number"], { timeoutMs: 60_000 });
      const resent = (await check("tcp.srcport == 80 && tcp.analysis.retransmission")).stdout.trim().split("\n").filter(Boolean).length;
      assert.ok(resent > 0, "the stack retransmitted nothing although the link dropped its segments");
      assert.equal((await check("tcp.segment.overlap.conflict")).stdout.trim(), "", "retransmitted bytes differ from the originals");

      let lingering: string[] = [];
      for (let tries = 0; tries < 100 && (lingering = await kernelSocketsNotClosed(ns)).length > 0; tries++) await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(lingering, [], "kernel sockets to the website not closed");
      await u.stop();
      assert.equal(checkAllClosed(await segments(ns, pcap)), 1 + 24);
    },
    { kernelAddress: "192.0.2.1/24", timeoutMs: 120_000 },
  );
});
