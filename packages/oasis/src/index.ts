// The device signatures. Types only: importing "oasis" adds no code to a bundle.
export type * from "./devices/index.ts";
