// oasis/flow: adapters over Flow — Web Streams, and Node's Duplex for Node libraries.
export { readableFromFlow, writableFromFlow, type FlowIo } from "./streams.ts";
export { toNodeDuplex, FlowDuplex } from "./node.ts";
