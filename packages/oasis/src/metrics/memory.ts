// The "memory" source on a Node host: what the process holds (rss), the V8 heap and the memory
// outside it (Buffers and ArrayBuffers, where network data lives). All in bytes.
import { getHeapStatistics } from "node:v8";

export function memoryFields(): Record<string, number> {
  const m = process.memoryUsage();
  const h = getHeapStatistics();
  return {
    rss: m.rss,
    heap_total: m.heapTotal,
    heap_used: m.heapUsed,
    heap_limit: h.heap_size_limit,
    heap_available: h.total_available_size,
    malloced: h.malloced_memory,
    external: m.external,
    array_buffers: m.arrayBuffers,
    native_contexts: h.number_of_native_contexts,
    detached_contexts: h.number_of_detached_contexts,
  };
}
