// What IPv4 and IPv6 share about device offloads: the capability an IP layer offers over its
// Ethernet device, and the check of a transport's request against it.
import type { IpOffload } from "../devices/ip.ts";
import type { NetOffload } from "../devices/net.ts";

/** The offloads an IP layer with `headerLength`-byte headers offers over a device's `o`. */
export function ipOffload(o: NetOffload | undefined, headerLength: number, maxDatagram: number): IpOffload | undefined {
  if (o === undefined || !o.checksum) return undefined;
  return { checksum: true, segmentation: o.segmentation, maxSegmented: o.segmentation ? Math.min(maxDatagram, o.maxFrame - 14 - headerLength) : 0 };
}

/** Throws a RangeError naming `layer` when a write asks for offloads `o` cannot give. */
export function checkOffloadRequest(layer: string, o: IpOffload | undefined, partialAt: number, segmentSize: number, length: number): void {
  if (o === undefined) throw new RangeError(`${layer} write: partialChecksumAt/segmentSize need a device with offloads (Ip.offload is undefined)`);
  if (!(Number.isInteger(partialAt) && partialAt >= 0 && partialAt + 2 <= length)) throw new RangeError(`${layer} write: partialChecksumAt ${partialAt} is not inside the ${length}-byte payload`);
  if (segmentSize > 0 && !(o.segmentation && Number.isInteger(segmentSize) && length <= o.maxSegmented)) {
    throw new RangeError(`${layer} write: cannot segment a ${length}-byte payload into ${segmentSize}-byte segments (device segmentation ${o.segmentation ? `up to ${o.maxSegmented} bytes` : "unavailable"})`);
  }
}
