let args: string[] = (globalThis as { process?: { argv?: string[] } }).process?.argv?.slice(2) ?? [];

export function argv(): string[] {
  return args;
}

export function setArgv(a: string[]): void {
  args = a;
}

export const implementation = "mock";
