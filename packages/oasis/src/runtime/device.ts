// The contract between the DSL and device implementations. A device module exports
// `device = defineDevice({ declare })`. The generated main calls `declare` for every device
// before the command line is parsed (so the device can declare its runtime arguments, prefixed
// by its group), and calls the returned `connect` after boot, with the devices it depends on.

export interface DeviceContext {
  /** The name given in config.ts (e.g. "tap0", "htdocs"). */
  name: string;
  /** Prefix for runtime arguments: "" or e.g. "data" for --data-ipv4. */
  group: string;
}

export type Connect<Deps, T> = (deps: Deps) => Promise<T>;

export interface DeviceModule<Options, Deps, T> {
  declare(options: Options, context: DeviceContext): Connect<Deps, T>;
}

export function defineDevice<Options, Deps, T>(m: DeviceModule<Options, Deps, T>): DeviceModule<Options, Deps, T> {
  return m;
}

/** The runtime-argument name for `name` under a device's group: argName(ctx, "ipv4") → "data-ipv4". */
export function argName(context: DeviceContext, name: string): string {
  return context.group ? `${context.group}-${name}` : name;
}

/** Raised by the generated main when a device's connect fails: names the device and the cause. */
export class ConnectError extends Error {
  constructor(
    readonly device: string,
    readonly description: string,
    cause: unknown,
  ) {
    const why = cause instanceof Error ? cause.message : String(cause);
    super(`device '${device}' (${description}) failed to connect: ${why}`, { cause });
    this.name = "ConnectError";
  }
}

/** Runs one device's connect, wrapping any failure in a ConnectError that names the device. */
export async function connectDevice<T>(device: string, description: string, connect: () => Promise<T>): Promise<T> {
  try {
    return await connect();
  } catch (e) {
    throw new ConnectError(device, description, e);
  }
}
