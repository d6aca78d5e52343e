import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CrunchKv } from "./crunch.ts";
import { crunchKvDevice } from "./index.ts";
import { sha256 } from "./sha256.ts";

const b64 = (s: string) => Buffer.from(s).toString("base64");
const data = {
  dir: "htdocs",
  entries: [
    { key: "/index.html", base64: b64("<h1>hi</h1>"), size: 11, mtimeMs: 1000 },
    { key: "/css/site.css", base64: b64("body{}"), size: 6, mtimeMs: 5000 },
    { key: "/css/broken.css", base64: b64("abc"), size: 4, mtimeMs: 10 },
  ],
};

describe("crunch store", () => {
  it("serves embedded files as values and their directories as dictionaries", async () => {
    const kv = new CrunchKv(data);
    assert.equal(new TextDecoder().decode(await kv.get("index.html")), "<h1>hi</h1>");
    assert.deepEqual(await kv.list("/"), [["/css", "dictionary"], ["/index.html", "value"]]);
    assert.equal(await kv.size("/css/site.css"), 6);
    assert.equal((await kv.lastModified("/css/site.css")).getTime(), 5000);
    assert.equal((await kv.lastModified("/css")).getTime(), 5000);
    assert.deepEqual(await kv.digest("/index.html"), sha256(new TextEncoder().encode("<h1>hi</h1>")));
    assert.equal(new TextDecoder().decode(await kv.getPartial("/css/site.css", 4, 100)), "{}");
  });

  it("reports an entry whose decoded size disagrees with the recorded one", async () => {
    const kv = new CrunchKv(data);
    await assert.rejects(kv.get("/css/broken.css"), /corrupt: 3 bytes instead of 4/);
  });

  it("offers no write methods", () => {
    assert.equal("set" in new CrunchKv(data), false);
  });

  it("device connects with the data the build fills in, and explains when it is missing", async () => {
    const kv = await crunchKvDevice.declare({ dir: "htdocs", data }, { name: "htdocs", group: "" })({});
    assert.equal(await kv.exists("/css"), "dictionary");
    await assert.rejects(crunchKvDevice.declare({ dir: "x", data: undefined as never }, { name: "x", group: "" })({}), /oasis build/);
  });
});
