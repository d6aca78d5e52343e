import type { KvRw } from "oasis";
import { source } from "oasis/logs";
import { now } from "oasis/ptime";
import { runtimeArg } from "oasis/runtime";

const add = runtimeArg.string({ name: "add", docv: "TEXT", doc: "Store a new record with this text before listing the records." });

const log = source("encrypted-store", "The encrypted record store");

interface Record {
  text: string;
  boot: number;
  at: string;
}

const decode = (b: Uint8Array) => new TextDecoder().decode(b);

export async function start({ store }: { store: KvRw }): Promise<void> {
  const boots = (await store.exists("/boots")) === "value" ? Number(decode(await store.get("/boots"))) + 1 : 1;
  await store.set("/boots", String(boots));

  const existing = (await store.exists("/records")) === "dictionary" ? await store.list("/records") : [];
  const text = add();
  if (text !== undefined) {
    const record: Record = { text, boot: boots, at: now().toISOString() };
    const key = `/records/${String(existing.length + 1).padStart(4, "0")}.json`;
    await store.set(key, JSON.stringify(record));
    log.info(`stored ${key}`);
  }

  const records = (await store.exists("/records")) === "dictionary" ? await store.list("/records") : [];
  for (const [key] of records) {
    const r = JSON.parse(decode(await store.get(key))) as Record;
    log.info(`${key.slice("/records/".length)}: "${r.text}" (boot ${r.boot}, ${r.at})`);
  }
  log.info(`boot ${boots}: ${records.length} record(s) in the encrypted store`);
}
