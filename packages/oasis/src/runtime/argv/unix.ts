/** The boot arguments: on the Node host, the process's command line after the script. */
export function argv(): string[] {
  return process.argv.slice(2);
}

export const implementation = "unix";
