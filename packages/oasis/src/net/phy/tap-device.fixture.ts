// Run inside a namespace by device.test.ts: boots the tapDevice the way a generated main does
// (declare, parse the command line, connect), answers ARP and ping for 192.0.2.2 by hand, and
// runs the exit hooks on SIGTERM.
import { parseArgs } from "../../runtime/args.ts";
import { runExitHooks } from "../../runtime/hooks.ts";
import { macToString } from "./mac.ts";
import { tapDevice } from "./device.ts";

const connect = tapDevice.declare({ name: "tap0" }, { name: "net", group: "" });
parseArgs(process.argv.slice(2));
const net = await connect({});
const us = [192, 0, 2, 2];

function checksum(b: Uint8Array): number {
  let s = 0;
  for (let i = 0; i + 1 < b.length; i += 2) s += (b[i]! << 8) | b[i + 1]!;
  if (b.length % 2) s += b[b.length - 1]! << 8;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

net.listen((f) => {
  const type = (f[12]! << 8) | f[13]!;
  if (type === 0x0806 && f[21] === 1 && f.subarray(38, 42).every((x, i) => x === us[i])) {
    const r = new Uint8Array(42);
    r.set(f.subarray(6, 12), 0);
    r.set(net.mac, 6);
    r.set([0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 2], 12);
    r.set(net.mac, 22);
    r.set(us, 28);
    r.set(f.subarray(22, 32), 32);
    net.write(r);
  } else if (type === 0x0800 && f[23] === 1 && f[34] === 8) {
    const total = (f[16]! << 8) | f[17]!;
    const r = f.slice(0, 14 + total);
    r.set(f.subarray(6, 12), 0);
    r.set(net.mac, 6);
    r.set(f.subarray(30, 34), 26);
    r.set(f.subarray(26, 30), 30);
    r[24] = r[25] = 0;
    const h = checksum(r.subarray(14, 34));
    r[24] = h >> 8;
    r[25] = h & 0xff;
    r[34] = 0;
    r[36] = r[37] = 0;
    const c = checksum(r.subarray(34));
    r[36] = c >> 8;
    r[37] = c & 0xff;
    net.write(r);
  }
});
process.on("SIGTERM", () => {
  void runExitHooks().then(() => process.exit(0));
});
console.log(`ready ${macToString(net.mac)}`);
