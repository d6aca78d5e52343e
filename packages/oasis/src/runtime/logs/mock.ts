import { setWriter } from "./core.ts";

export * from "./core.ts";

/** Lines logged so far (the mock target keeps them in memory for assertions). */
export const captured: string[] = [];
setWriter((line) => {
  captured.push(line);
});
