// A stub resolver over any Stack (Mirage's dns-client): asks recursive nameservers over UDP from
// a random port with a random ID, accepts only an answer from the server asked to the question
// asked, retries with a timeout per server and rotates over servers, repeats a truncated answer
// over TCP, follows CNAME chains, and caches answers and negative answers (RFC 2308) for their TTL.
import { source } from "oasis/logs";
import { nowMs } from "oasis/mtime";
import { randomInt } from "oasis/random";
import { setTimer } from "oasis/sleep";
import { DeviceError } from "../../devices/errors.ts";
import type { Stack } from "../../devices/stack.ts";
import type { TcpFlow } from "../../devices/tcp.ts";
import { Counters, WireError } from "../wire/error.ts";
import { canonicalIp, reverseName } from "./address.ts";
import { TtlCache } from "./cache.ts";
import { formatNameserver, parseNameserver, type Nameserver } from "./nameserver.ts";
import {
  canonicalName,
  CLASS_IN,
  emitMessage,
  nameKey,
  parseMessage,
  queryMessage,
  RCODE,
  rcodeName,
  RR_TYPES,
  typeCode,
  typeName,
  type DnsMessage,
  type DnsRecord,
  type RData,
  type RecordTypeName,
} from "./wire.ts";

const log = source("dns", "DNS client");

export type DnsErrorCode = "nxdomain" | "nodata" | "timeout" | "servfail" | "refused" | "malformed" | "unreachable" | "invalid-name" | "cname-loop";

/** A failed lookup; `domain` is the name asked for, `code` says why. */
export class DnsError extends DeviceError<DnsErrorCode> {
  constructor(
    code: DnsErrorCode,
    readonly domain: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
  }
}

export interface DnsClientOptions {
  /** Recursive resolvers, asked in order (the last one that answered first); specs like "udp:192.0.2.1". */
  nameservers: ReadonlyArray<Nameserver | string>;
  /** How long to wait for one server to answer one query (default 2000 ms). */
  timeoutMs?: number;
  /** Rounds over all servers before giving up (default 2). */
  attempts?: number;
  /** Answers kept (positive and negative; default 32, 0 disables the cache). */
  cacheSize?: number;
  /** EDNS UDP payload size advertised (default 1232, RFC 9715; 0 sends no EDNS, answers then fit 512 bytes). */
  ednsPayloadSize?: number;
}

export interface DnsAnswer {
  /** The name asked for. */
  name: string;
  /** The owner of the records at the end of any CNAME chain. */
  canonicalName: string;
  type: number;
  records: RData[];
  /** Seconds the answer stays valid (the smallest TTL along the chain). */
  ttl: number;
}

const MAX_CNAME_CHAIN = 8;
/** Caps from RFC 8767 §4 (positive) and RFC 2308 §5 (negative). */
const MAX_TTL = 7 * 24 * 3600;
const MAX_NEGATIVE_TTL = 3 * 3600;
const EPHEMERAL_FIRST = 49152;
const EPHEMERAL_COUNT = 65536 - EPHEMERAL_FIRST;
const PORT_ATTEMPTS = 4;

/** One step of a lookup: records of the type, or a CNAME to follow. */
type Step = { kind: "records"; owner: string; records: RData[] } | { kind: "cname"; target: string };
type Cached = Step | { kind: "negative"; code: "nxdomain" | "nodata"; server: string };

/** A failure of one server for one query: the next server is tried. */
class ServerFailure extends Error {
  constructor(
    readonly code: DnsErrorCode,
    readonly server: string,
    /** What went wrong, without the server or the question: "no answer within 2000 ms". */
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`${server}: ${reason}`, options);
  }
}

export class DnsClient {
  /** Dropped answers and failures by reason (spoofed-source, wrong-id, malformed:REASON, timeout, …). */
  readonly counters = new Counters();
  readonly nameservers: readonly Nameserver[];
  readonly #stack: Pick<Stack, "udp" | "tcp">;
  readonly #timeoutMs: number;
  readonly #attempts: number;
  readonly #ednsPayloadSize: number;
  readonly #cache: TtlCache<Cached>;
  readonly #inflight = new Map<string, Promise<{ step: Step; ttl: number }>>();
  readonly #ports = new Set<number>();
  #preferred = 0;

  constructor(stack: Pick<Stack, "udp" | "tcp">, options: DnsClientOptions) {
    this.#stack = stack;
    this.nameservers = options.nameservers.map((n) => (typeof n === "string" ? parseNameserver(n) : { ...n, address: canonicalIp(n.address) ?? badServer(n.address) }));
    if (this.nameservers.length === 0) throw new Error("DNS client: no nameserver given; pass at least one, e.g. udp:192.0.2.1");
    this.#timeoutMs = positiveInteger(options.timeoutMs ?? 2000, "timeoutMs");
    this.#attempts = positiveInteger(options.attempts ?? 2, "attempts");
    this.#ednsPayloadSize = options.ednsPayloadSize ?? 1232;
    if (this.#ednsPayloadSize !== 0 && !(this.#ednsPayloadSize >= 512 && this.#ednsPayloadSize <= 65535)) {
      throw new RangeError(`DNS client: ednsPayloadSize must be 0 or from 512 to 65535, got ${this.#ednsPayloadSize}`);
    }
    this.#cache = new TtlCache(options.cacheSize ?? 32);
  }

  /** Records of `type` for `name`, following CNAMEs. Rejects with DnsError. */
  async resolve(name: string, type: RecordTypeName | number): Promise<DnsAnswer> {
    const qtype = typeof type === "number" ? type : RR_TYPES[type];
    if (!Number.isInteger(qtype) || qtype < 0 || qtype > 0xffff || qtype === RR_TYPES.OPT) throw new RangeError(`DNS resolve: ${String(type)} is not a record type one can ask for`);
    const canonical = canonicalName(name);
    if (typeof canonical !== "string") throw new DnsError("invalid-name", name, `'${name}' is not a valid domain name: ${canonical.error}`);
    if (canonical === "") throw new DnsError("invalid-name", name, "the root name '.' has no addresses: give a domain name");
    let current = canonical;
    let ttl = MAX_TTL;
    const seen = new Set<string>([nameKey(current)]);
    for (let hops = 0; ; hops++) {
      const { step, ttl: stepTtl } = await this.#lookup(current, qtype, canonical);
      ttl = Math.min(ttl, stepTtl);
      if (step.kind === "records") return { name: canonical, canonicalName: step.owner, type: qtype, records: step.records, ttl };
      if (seen.has(nameKey(step.target)) || hops + 1 >= MAX_CNAME_CHAIN) {
        throw new DnsError("cname-loop", canonical, `${canonical} (${typeName(qtype)}): CNAME chain loops or is longer than ${MAX_CNAME_CHAIN} (at ${step.target})`);
      }
      seen.add(nameKey(step.target));
      current = step.target;
    }
  }

  /** IPv4 addresses (A records) of `name`; an IPv4 literal is returned as it is. */
  async getHostByName(name: string): Promise<string[]> {
    const literal = canonicalIp(name);
    if (literal && !literal.includes(":")) return [literal];
    if (literal) throw new DnsError("invalid-name", name, `'${name}' is an IPv6 address, not a name with IPv4 addresses: use getHostByName6 or getAddrInfo`);
    return addresses(await this.resolve(name, "A"));
  }

  /** IPv6 addresses (AAAA records) of `name`; an IPv6 literal is returned as it is. */
  async getHostByName6(name: string): Promise<string[]> {
    const literal = canonicalIp(name);
    if (literal && literal.includes(":")) return [literal];
    if (literal) throw new DnsError("invalid-name", name, `'${name}' is an IPv4 address, not a name with IPv6 addresses: use getHostByName or getAddrInfo`);
    return addresses(await this.resolve(name, "AAAA"));
  }

  /**
   * Every address of `name`, IPv4 first by default: the direct stack may have no IPv6 at all and
   * the host's may lack a route, so IPv4 is the address most likely to connect (`prefer: "ipv6"`
   * reverses the order). A and AAAA are asked at the same time; one family missing is not an
   * error, both missing is (nxdomain if either said so).
   */
  async getAddrInfo(name: string, options: { prefer?: "ipv4" | "ipv6" } = {}): Promise<string[]> {
    const literal = canonicalIp(name);
    if (literal) return [literal];
    const [v4, v6] = await Promise.allSettled([this.getHostByName(name), this.getHostByName6(name)]);
    if (v4.status === "rejected" && v6.status === "rejected") {
      const errors = [v4.reason, v6.reason] as unknown[];
      throw errors.find((e) => e instanceof DnsError && e.code === "nxdomain") ?? errors.find((e) => !(e instanceof DnsError && e.code === "nodata")) ?? v4.reason;
    }
    const a = v4.status === "fulfilled" ? v4.value : [];
    const aaaa = v6.status === "fulfilled" ? v6.value : [];
    return options.prefer === "ipv6" ? [...aaaa, ...a] : [...a, ...aaaa];
  }

  /** Host names of an address (PTR records under in-addr.arpa or ip6.arpa). */
  async reverse(ip: string): Promise<string[]> {
    const name = reverseName(ip);
    if (!name) throw new DnsError("invalid-name", ip, `reverse lookup: '${ip}' is not an IPv4 or IPv6 address`);
    const answer = await this.resolve(name, "PTR");
    return answer.records.flatMap((r) => (r.type === "PTR" ? [r.target] : []));
  }

  /** Forgets every cached answer. */
  clearCache(): void {
    this.#cache.clear();
  }

  /** One step for (name, type): from the cache, from a query already on its way, or from the network. */
  async #lookup(name: string, qtype: number, asked: string): Promise<{ step: Step; ttl: number }> {
    const key = `${nameKey(name)}/${qtype}`;
    // RFC 2308 §5: a name that does not exist has no records of any type.
    const hit = this.#cache.get(key, nowMs()) ?? this.#cache.get(`${nameKey(name)}/nxdomain`, nowMs());
    if (hit) {
      this.counters.add("cache-hit");
      const v = hit.value;
      if (v.kind === "negative") throw negativeError(v.code, name, qtype, asked, `${v.server}, cached`);
      return { step: v, ttl: hit.ttl };
    }
    let pending = this.#inflight.get(key);
    if (!pending) {
      pending = this.#ask(name, qtype, asked).finally(() => this.#inflight.delete(key));
      this.#inflight.set(key, pending);
    }
    return pending;
  }

  async #ask(name: string, qtype: number, asked: string): Promise<{ step: Step; ttl: number }> {
    let last: ServerFailure | null = null;
    const n = this.nameservers.length;
    const where = `${typeName(qtype)} ${name}${name === asked ? "" : ` (for ${asked})`}`;
    for (let round = 0; round < this.#attempts; round++) {
      for (let k = 0; k < n; k++) {
        const index = (this.#preferred + k) % n;
        const server = this.nameservers[index]!;
        try {
          const response = await this.#exchange(server, name, qtype);
          const outcome = this.#interpret(response, server, name, qtype, asked);
          this.#preferred = index;
          return outcome;
        } catch (e) {
          if (!(e instanceof ServerFailure)) throw e;
          last = e;
          this.counters.add(e.code);
          log.debug(() => `${where}: ${e.message}`);
        }
      }
    }
    const servers = this.nameservers.map(formatNameserver).join(", ");
    const rounds = `${this.#attempts} round${this.#attempts === 1 ? "" : "s"}`;
    const why = last ? (n === 1 ? last.reason : last.message) : "no server";
    throw new DnsError(last?.code ?? "timeout", asked, `DNS lookup of ${where} failed after ${rounds} over ${servers}: ${n === 1 ? "" : "last, "}${why}`, { cause: last });
  }

  /** Interprets an answer matched to our question; throws DnsError (final) or ServerFailure (try the next server). */
  #interpret(m: DnsMessage, server: Nameserver, name: string, qtype: number, asked: string): { step: Step; ttl: number } {
    const from = formatNameserver(server);
    const key = `${nameKey(name)}/${qtype}`;
    if (m.rcode === RCODE.NXDOMAIN || (m.rcode === RCODE.NOERROR && followChain(m, name, qtype).kind === "none")) {
      const code = m.rcode === RCODE.NXDOMAIN ? "nxdomain" : "nodata";
      // RFC 2308 §5: a negative answer lives for min(SOA TTL, SOA minimum); without an SOA it is not cached.
      const soa = m.authorities.find((r) => r.data.type === "SOA");
      // After a CNAME chain in the same answer, it is the chain's end that does not exist.
      const chain = followChain(m, name, qtype);
      if (soa && soa.data.type === "SOA") {
        const negativeKey = code === "nxdomain" && chain.kind === "none" ? `${nameKey(name)}/nxdomain` : key;
        this.#cache.set(negativeKey, { kind: "negative", code, server: from }, Math.min(soa.ttl, soa.data.minimum, MAX_NEGATIVE_TTL), nowMs());
      }
      throw negativeError(code, chain.kind === "cname" ? chain.target : name, qtype, asked, from);
    }
    if (m.rcode !== RCODE.NOERROR) {
      const code = m.rcode === RCODE.SERVFAIL ? "servfail" : m.rcode === RCODE.FORMERR ? "malformed" : "refused";
      throw new ServerFailure(code, from, `answered ${rcodeName(m.rcode)}`);
    }
    const chain = followChain(m, name, qtype);
    const now = nowMs();
    if (chain.kind === "records") {
      const ttl = Math.min(MAX_TTL, ...chain.ttls);
      const step: Step = { kind: "records", owner: chain.owner, records: chain.records };
      this.#cache.set(key, step, ttl, now);
      return { step, ttl };
    }
    if (chain.kind === "cname") {
      const ttl = Math.min(MAX_TTL, ...chain.ttls);
      const step: Step = { kind: "cname", target: chain.target };
      this.#cache.set(key, step, ttl, now);
      return { step, ttl };
    }
    throw new Error("unreachable"); // "none" was handled above
  }

  /** Sends one query to one server and returns the matching answer; failures become ServerFailure. */
  async #exchange(server: Nameserver, name: string, qtype: number): Promise<DnsMessage> {
    const id = randomInt(0x10000);
    const query = emitMessage(queryMessage(id, name, qtype, this.#ednsPayloadSize));
    if (server.protocol === "tcp") return this.#tcp(server, query, id, name, qtype);
    const answer = await this.#udp(server, query, id, name, qtype);
    if (!answer.tc) return answer;
    this.counters.add("truncated-retry-tcp");
    log.debug(() => `${formatNameserver(server)}: truncated answer for ${name}, asking again over TCP`);
    return this.#tcp({ ...server, protocol: "tcp" }, query, id, name, qtype);
  }

  #udp(server: Nameserver, query: Uint8Array, id: number, name: string, qtype: number): Promise<DnsMessage> {
    const from = formatNameserver(server);
    const udp = this.#stack.udp;
    return new Promise<DnsMessage>((resolve, reject) => {
      let port = -1;
      let malformed: string | null = null;
      let settled = false;
      const finish = (outcome: () => void) => {
        if (settled) return;
        settled = true;
        cancel();
        if (port >= 0) {
          udp.unlisten(port);
          this.#ports.delete(port);
        }
        outcome();
      };
      const cancel = setTimer(this.#timeoutMs, () => {
        const why = malformed ? `only malformed answers (${malformed})` : `no answer within ${this.#timeoutMs} ms`;
        finish(() => reject(new ServerFailure(malformed ? "malformed" : "timeout", from, why)));
      });
      const onDatagram = (d: { src: string; srcPort: number; data: Uint8Array }) => {
        if (settled) return;
        // Only the server asked, from the port asked, with our ID and question: anything else may be forged.
        if (canonicalIp(d.src) !== server.address || d.srcPort !== server.port) return this.counters.add("spoofed-source");
        const m = parseMessage(d.data);
        if (m instanceof WireError) {
          this.counters.add(`malformed:${m.reason}`);
          malformed = m.detail;
          return;
        }
        if (!m.qr || m.id !== id) return this.counters.add("wrong-id");
        if (!sameQuestion(m, name, qtype)) return this.counters.add("wrong-question");
        finish(() => resolve(m));
      };
      const send = async (): Promise<void> => {
        for (let attempt = 0; ; attempt++) {
          port = this.#freePort();
          this.#ports.add(port);
          try {
            udp.listen(port, onDatagram);
            await udp.write(server.address, server.port, query, { srcPort: port });
            return;
          } catch (e) {
            // Timed out meanwhile: finish() has released the port, which may already serve another query.
            if (settled) return;
            // A port the application listens on is not ours to close.
            if (!(e instanceof DeviceError && /another listener/.test(e.message))) udp.unlisten(port);
            this.#ports.delete(port);
            port = -1;
            // A port another socket holds fails the bind (socket stack): pick another one.
            const inUse = e instanceof DeviceError && e.code === "unavailable" && /in use/.test(e.message);
            if (!inUse || attempt + 1 >= PORT_ATTEMPTS) throw e;
          }
        }
      };
      send().catch((e: unknown) => {
        const why = e instanceof Error ? e.message : String(e);
        finish(() => reject(new ServerFailure("unreachable", from, `cannot send the query: ${why}`, { cause: e })));
      });
    });
  }

  #freePort(): number {
    for (;;) {
      const p = EPHEMERAL_FIRST + randomInt(EPHEMERAL_COUNT);
      if (!this.#ports.has(p)) return p;
    }
  }

  async #tcp(server: Nameserver, query: Uint8Array, id: number, name: string, qtype: number): Promise<DnsMessage> {
    const from = formatNameserver(server);
    let flow: TcpFlow | null = null;
    let timedOut = false;
    let expire!: (v: null) => void;
    const expired = new Promise<null>((resolve) => (expire = resolve));
    const cancel = setTimer(this.#timeoutMs, () => {
      timedOut = true;
      expire(null);
      // Closing the flow ends a pending read; a connect still on its way is closed when it lands.
      flow?.close().catch(() => {});
    });
    const fail = (code: DnsErrorCode, why: string, cause?: unknown) => new ServerFailure(code, from, why, { cause });
    try {
      const connecting = this.#stack.tcp.connect(server.address, server.port);
      flow = await Promise.race([connecting, expired]);
      if (!flow) {
        connecting.then((f) => f.close()).catch(() => {});
        throw fail("timeout", `no TCP connection within ${this.#timeoutMs} ms`);
      }
      const framed = new Uint8Array(2 + query.length);
      framed[0] = query.length >> 8;
      framed[1] = query.length & 255;
      framed.set(query, 2);
      await flow.write(framed);
      const chunks: Uint8Array[] = [];
      let have = 0;
      let need = -1;
      while (need < 0 || have < 2 + need) {
        const chunk = await flow.read();
        if (chunk === null) {
          if (timedOut) throw fail("timeout", `no complete answer over TCP within ${this.#timeoutMs} ms`);
          throw fail("malformed", `TCP connection closed after ${have} bytes, before the whole answer`);
        }
        chunks.push(chunk);
        have += chunk.length;
        if (need < 0 && have >= 2) {
          const head = concat(chunks, 2);
          need = (head[0]! << 8) | head[1]!;
        }
      }
      const m = parseMessage(concat(chunks, 2 + need).subarray(2));
      if (m instanceof WireError) {
        this.counters.add(`malformed:${m.reason}`);
        throw fail("malformed", `malformed answer over TCP (${m.detail})`);
      }
      if (!m.qr || m.id !== id || !sameQuestion(m, name, qtype)) throw fail("malformed", "TCP answer to another question");
      return m;
    } catch (e) {
      if (e instanceof ServerFailure) throw e;
      if (timedOut) throw fail("timeout", `no answer over TCP within ${this.#timeoutMs} ms`, e);
      throw fail("unreachable", `TCP: ${e instanceof Error ? e.message : String(e)}`, e);
    } finally {
      cancel();
      await flow?.close().catch(() => {});
    }
  }
}

/** Library entry point: a client over `stack` (Mirage's Dns_client_mirage.connect). */
export function createDnsClient(stack: Pick<Stack, "udp" | "tcp">, options: DnsClientOptions): DnsClient {
  return new DnsClient(stack, options);
}

type Chain = { kind: "records"; owner: string; records: RData[]; ttls: number[] } | { kind: "cname"; target: string; ttls: number[] } | { kind: "none" };

/** Follows CNAMEs from `name` through the answer section as far as the answer goes. */
function followChain(m: DnsMessage, name: string, qtype: number): Chain {
  let current = name;
  const ttls: number[] = [];
  const seen = new Set<string>();
  for (;;) {
    const key = nameKey(current);
    seen.add(key);
    const owned = m.answers.filter((r) => r.class === CLASS_IN && nameKey(r.name) === key);
    const matching = owned.filter((r) => typeCode(r.data) === qtype);
    if (matching.length > 0) return { kind: "records", owner: current, records: matching.map((r) => r.data), ttls: [...ttls, ...matching.map(ttlOf)] };
    const cname = qtype === RR_TYPES.CNAME ? undefined : owned.find((r) => r.data.type === "CNAME");
    if (!cname || cname.data.type !== "CNAME") return ttls.length === 0 ? { kind: "none" } : { kind: "cname", target: current, ttls };
    ttls.push(ttlOf(cname));
    current = cname.data.target;
    // A loop inside one answer: hand back the target, the caller's bounded chain stops it.
    if (seen.has(nameKey(current))) return { kind: "cname", target: current, ttls };
  }
}

/** RFC 2181 §8: a TTL with the top bit set means 0. */
function ttlOf(r: DnsRecord): number {
  return r.ttl > 0x7fffffff ? 0 : r.ttl;
}

function sameQuestion(m: DnsMessage, name: string, qtype: number): boolean {
  const q = m.questions[0];
  return m.questions.length === 1 && q !== undefined && q.type === qtype && q.class === CLASS_IN && nameKey(q.name) === nameKey(name);
}

function negativeError(code: "nxdomain" | "nodata", name: string, qtype: number, asked: string, from: string): DnsError {
  const via = name === asked ? "" : ` (alias of ${asked})`;
  const what = code === "nxdomain" ? `${name}${via} does not exist` : `${name}${via} has no ${typeName(qtype)} record`;
  return new DnsError(code, asked, `${what} (answer from ${from})`);
}

function addresses(answer: DnsAnswer): string[] {
  return answer.records.flatMap((r) => (r.type === "A" || r.type === "AAAA" ? [r.address] : []));
}

function concat(chunks: Uint8Array[], upTo: number): Uint8Array {
  const out = new Uint8Array(upTo);
  let at = 0;
  for (const c of chunks) {
    if (at >= upTo) break;
    const part = c.subarray(0, upTo - at);
    out.set(part, at);
    at += part.length;
  }
  return out;
}

function positiveInteger(v: number, what: string): number {
  if (!Number.isInteger(v) || v < 1) throw new RangeError(`DNS client: ${what} must be a positive integer, got ${v}`);
  return v;
}

function badServer(address: string): never {
  throw new Error(`DNS client: nameserver address '${address}' is not an IP address`);
}
