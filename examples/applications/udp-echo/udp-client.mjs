#!/usr/bin/env node
// Checks a UDP echo server through the host's kernel sockets: sends COUNT numbered datagrams of
// varying sizes (at most WINDOW unanswered), and prints {"sent","got","bad","missing"} as JSON.
// Exit code 0 only if every datagram came back exactly once and unaltered.
//   node udp-client.mjs HOST PORT [COUNT=10000] [WINDOW=64] [TIMEOUT_MS=30000]
import dgram from "node:dgram";

const [host, portText, countText = "10000", windowText = "64", timeoutText = "30000"] = process.argv.slice(2);
if (!host || !portText) {
  console.error("usage: node udp-client.mjs HOST PORT [COUNT] [WINDOW] [TIMEOUT_MS]");
  process.exit(64);
}
const port = Number(portText);
const total = Number(countText);
const window = Number(windowText);
const socket = dgram.createSocket(host.includes(":") ? "udp6" : "udp4");
const seen = new Uint8Array(total);
let sent = 0;
let got = 0;
let bad = 0;

function payload(i) {
  return Buffer.from(`datagram ${i} `.padEnd(64 + (i % 900), String.fromCharCode(97 + (i % 26))));
}

function finish(code) {
  console.log(JSON.stringify({ sent, got, bad, missing: total - seen.reduce((a, b) => a + b, 0) }));
  process.exit(code);
}

function pump() {
  while (sent < total && sent - got < window) socket.send(payload(sent++), port, host);
}

const timer = setTimeout(() => finish(1), Number(timeoutText));
socket.on("message", (m) => {
  const i = Number(/^datagram (\d+) /.exec(m.toString("latin1"))?.[1]);
  if (!(i >= 0 && i < total) || seen[i] || !payload(i).equals(m)) bad++;
  else seen[i] = 1;
  got++;
  if (got === total) {
    clearTimeout(timer);
    finish(bad === 0 ? 0 : 1);
  }
  pump();
});
socket.on("error", (e) => {
  console.error(`udp-client: ${e.message}`);
  finish(1);
});
socket.bind(0, pump);
