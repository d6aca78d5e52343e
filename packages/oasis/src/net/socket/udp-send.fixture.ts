// Run inside a network namespace by udp-ttl.test.ts: sends datagrams through the socket stack.
import { SocketUdp, DEFAULT_SOCKET_CONFIG } from "./index.ts";

const udp = new SocketUdp(DEFAULT_SOCKET_CONFIG);
const data = new TextEncoder().encode("ttl probe");
for (let i = 0; i < 3; i++) {
  await udp.write("192.0.2.9", 9999, data, { ttl: 7 });
  await udp.write("192.0.2.9", 9998, data);
  await new Promise((r) => setTimeout(r, 100));
}
await udp.disconnect();
console.log("sent");
