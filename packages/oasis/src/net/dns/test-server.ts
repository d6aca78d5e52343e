// For tests: a small DNS server on 127.0.0.1 over the socket stack (real UDP and TCP sockets of
// the host), answering from a function the test gives. It can misbehave on purpose: stay silent,
// answer with bytes of its choice, or send answers from another port (as a spoofer would).
import { randomInt } from "node:crypto";
import type { TcpFlow } from "../../devices/tcp.ts";
import { SocketStack } from "../socket/index.ts";
import { WireError } from "../wire/error.ts";
import { CLASS_IN, emitMessage, parseMessage, typeName, type DnsMessage, type DnsRecord } from "./wire.ts";

/** A reply: a message, raw bytes, or a message sent from another UDP port of the server host. */
export type Reply = DnsMessage | Uint8Array | { fromOtherPort: DnsMessage };
export type Responder = (query: DnsMessage, via: "udp" | "tcp") => Reply | Reply[] | null | Promise<Reply | Reply[] | null>;

const LOOPBACK = { ipv4: { address: "127.0.0.1", prefixLength: 8 }, ipv6: { address: "::1", prefixLength: 128 }, ipv4Only: true, ipv6Only: false };

/** A socket stack bound to 127.0.0.1, for clients in tests. */
export function loopbackStack(): SocketStack {
  return new SocketStack(LOOPBACK);
}

export class TableServer {
  readonly address = "127.0.0.1";
  /** Every query received, as "udp A www.example.test". */
  readonly queries: string[] = [];
  /** Source ports of the UDP queries. */
  readonly udpSourcePorts: number[] = [];
  readonly #stack: SocketStack;
  readonly #spoofPort: number;

  private constructor(
    stack: SocketStack,
    readonly port: number,
    spoofPort: number,
  ) {
    this.#stack = stack;
    this.#spoofPort = spoofPort;
  }

  static async start(respond: Responder): Promise<TableServer> {
    for (let attempt = 0; ; attempt++) {
      const stack = loopbackStack();
      const port = 20000 + randomInt(40000);
      const spoofPort = port + 1;
      let server: TableServer | null = null;
      stack.udp.listen(port, (d) => {
        const data = d.data.slice();
        if (server) void server.#onUdp(respond, data, d.src, d.srcPort);
      });
      stack.udp.listen(spoofPort, () => {});
      stack.tcp.listen(port, (flow) => (server ? server.#onTcp(respond, flow) : flow.close()));
      try {
        await Promise.all([stack.udp.listening(port), stack.udp.listening(spoofPort), stack.tcp.listening(port)]);
        server = new TableServer(stack, port, spoofPort);
        return server;
      } catch (e) {
        await stack.disconnect();
        if (attempt >= 5) throw e;
      }
    }
  }

  spec(protocol: "udp" | "tcp" = "udp"): string {
    return `${protocol}:${this.address}:${this.port}`;
  }

  count(via?: "udp" | "tcp"): number {
    return via ? this.queries.filter((q) => q.startsWith(via)).length : this.queries.length;
  }

  async stop(): Promise<void> {
    await this.#stack.disconnect();
  }

  #note(query: DnsMessage, via: "udp" | "tcp"): void {
    const q = query.questions[0];
    this.queries.push(q ? `${via} ${typeName(q.type)} ${q.name}` : `${via} (no question)`);
  }

  async #onUdp(respond: Responder, data: Uint8Array, src: string, srcPort: number): Promise<void> {
    const query = parseMessage(data);
    if (query instanceof WireError) return;
    this.#note(query, "udp");
    this.udpSourcePorts.push(srcPort);
    const replies = await respond(query, "udp");
    for (const r of replies === null ? [] : Array.isArray(replies) ? replies : [replies]) {
      if (r instanceof Uint8Array) await this.#stack.udp.write(src, srcPort, r, { srcPort: this.port });
      else if ("fromOtherPort" in r) await this.#stack.udp.write(src, srcPort, emitMessage(r.fromOtherPort), { srcPort: this.#spoofPort });
      else await this.#stack.udp.write(src, srcPort, emitMessage(r), { srcPort: this.port });
    }
  }

  async #onTcp(respond: Responder, flow: TcpFlow): Promise<void> {
    let buffered = new Uint8Array(0);
    for (;;) {
      while (buffered.length >= 2 && buffered.length >= 2 + ((buffered[0]! << 8) | buffered[1]!)) {
        const length = (buffered[0]! << 8) | buffered[1]!;
        const query = parseMessage(buffered.slice(2, 2 + length));
        buffered = buffered.slice(2 + length);
        if (query instanceof WireError) return flow.close();
        this.#note(query, "tcp");
        const replies = await respond(query, "tcp");
        for (const r of replies === null ? [] : Array.isArray(replies) ? replies : [replies]) {
          const bytes = r instanceof Uint8Array ? r : emitMessage("fromOtherPort" in r ? r.fromOtherPort : r);
          const framed = new Uint8Array(2 + bytes.length);
          framed[0] = bytes.length >> 8;
          framed[1] = bytes.length & 255;
          framed.set(bytes, 2);
          await flow.write(framed);
        }
      }
      const chunk = await flow.read().catch(() => null);
      if (chunk === null) return flow.close();
      const next = new Uint8Array(buffered.length + chunk.length);
      next.set(buffered);
      next.set(chunk, buffered.length);
      buffered = next;
    }
  }
}

/** The response to `query` with `answers` (and optional other fields). */
export function reply(query: DnsMessage, answers: DnsRecord[], fields: Partial<DnsMessage> = {}): DnsMessage {
  return { ...query, qr: true, ra: true, aa: false, answers, authorities: [], additionals: [], edns: null, ...fields };
}

export function a(name: string, address: string, ttl = 300): DnsRecord {
  return { name, class: CLASS_IN, ttl, data: { type: "A", address } };
}

export function aaaa(name: string, address: string, ttl = 300): DnsRecord {
  return { name, class: CLASS_IN, ttl, data: { type: "AAAA", address } };
}

export function cname(name: string, target: string, ttl = 300): DnsRecord {
  return { name, class: CLASS_IN, ttl, data: { type: "CNAME", target } };
}

export function soa(zone: string, ttl: number, minimum: number): DnsRecord {
  return { name: zone, class: CLASS_IN, ttl, data: { type: "SOA", mname: `ns.${zone}`, rname: `hostmaster.${zone}`, serial: 1, refresh: 3600, retry: 600, expire: 86400, minimum } };
}
