// Multicast listener discovery for a host (MLDv2, RFC 3810): announces the groups we listen to
// (state-change reports, sent twice as §6.1 asks) and answers routers' queries after a random
// delay, so that switches which snoop MLD keep forwarding our solicited-node traffic to us.
import { Counters, WireError } from "../wire/error.ts";
import { ipv6Equal, ipv6Text, isIpv6LinkLocal, isIpv6Unspecified } from "../wire/ipv6.ts";
import { MLD_CHANGE_TO_EXCLUDE, MLD_CHANGE_TO_INCLUDE, MLD_MODE_IS_EXCLUDE, parseMldQuery, type MldRecord } from "../wire/icmpv6.ts";
import type { Clock } from "../stack/clock.ts";

/** Time between a state-change report and its repetition (Unsolicited Report Interval). */
const REPEAT_MS = 1000;

export class MulticastListener {
  private readonly groups = new Map<string, Uint8Array>();
  private readonly timers = new Set<() => void>();
  private cancelAnswer: () => void = () => {};

  constructor(
    private readonly clock: Clock,
    private readonly counters: Counters,
    private readonly random: (max: number) => number,
    /** Sends one report with these records. */
    private readonly send: (records: MldRecord[]) => void,
  ) {}

  /** Sets the groups we listen to, reporting the ones joined and left. */
  set(wanted: Iterable<Uint8Array>): void {
    const next = new Map<string, Uint8Array>();
    for (const g of wanted) next.set(ipv6Text(g), g);
    const records: MldRecord[] = [];
    for (const [k, g] of next) if (!this.groups.has(k)) records.push({ type: MLD_CHANGE_TO_EXCLUDE, group: g, sources: [] });
    for (const [k, g] of this.groups) if (!next.has(k)) records.push({ type: MLD_CHANGE_TO_INCLUDE, group: g, sources: [] });
    this.groups.clear();
    for (const [k, g] of next) this.groups.set(k, g);
    if (records.length === 0) return;
    this.send(records);
    const cancel = this.clock.setTimer(REPEAT_MS, () => {
      this.timers.delete(cancel);
      this.send(records);
    });
    this.timers.add(cancel);
  }

  /** A query (the whole ICMPv6 message) from `src`: report the groups asked about. */
  query(src: Uint8Array, message: Uint8Array): void {
    if (!isIpv6LinkLocal(src)) return this.counters.add("mld-query-not-link-local");
    const q = parseMldQuery(message);
    if (q instanceof WireError) return this.counters.add(q.reason);
    const general = isIpv6Unspecified(q.group);
    const asked = [...this.groups.values()].filter((g) => general || ipv6Equal(g, q.group));
    if (asked.length === 0) return;
    this.counters.add("mld-query");
    // One pending answer at a time: a newer query supersedes it.
    this.cancelAnswer();
    this.cancelAnswer = this.clock.setTimer(q.maxResponseMs > 0 ? this.random(q.maxResponseMs) : 0, () => {
      const still = asked.filter((g) => this.groups.has(ipv6Text(g)));
      if (still.length) this.send(still.map((group) => ({ type: MLD_MODE_IS_EXCLUDE, group, sources: [] })));
    });
  }

  stop(): void {
    this.cancelAnswer();
    for (const c of this.timers) c();
    this.timers.clear();
  }
}
