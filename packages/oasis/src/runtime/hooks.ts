// Work to do before the unikernel exits (release a DHCP lease, flush a pcap file, sync a disk).
const hooks: Array<() => void | Promise<void>> = [];

export function atExit(hook: () => void | Promise<void>): void {
  hooks.push(hook);
}

/** Runs every hook once, newest first, each bounded so a stuck hook cannot hang shutdown. */
export async function runExitHooks(timeoutMs = 2000): Promise<void> {
  const pending = hooks.splice(0).reverse();
  for (const h of pending) {
    try {
      await Promise.race([h(), new Promise((r) => setTimeout(r, timeoutMs).unref?.())]);
    } catch {
      // A failing hook must not stop the others.
    }
  }
}
