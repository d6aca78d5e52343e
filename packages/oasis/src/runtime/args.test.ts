import { test, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { ArgumentError, parseArgs, resetArgsForTests, runtimeArg, usage } from "./args.ts";

beforeEach(() => resetArgsForTests());

test("reading an argument before boot is an error that says so", () => {
  const port = runtimeArg.int({ name: "port", default: 8080, doc: "Port." });
  assert.throws(() => port(), /--port was read before boot/);
});

test("defaults, --name=value, --name value, flags and short aliases", () => {
  const port = runtimeArg.int({ name: "port", default: 8080, doc: "Port." });
  const host = runtimeArg.string({ name: "host", doc: "Host." });
  const verbose = runtimeArg.bool({ name: "verbose", doc: "Chatty." });
  const level = runtimeArg.enum({ name: "level", values: ["low", "high"] as const, default: "low", doc: "Level.", short: "L" });
  parseArgs(["--host", "example", "--verbose", "-L", "high"]);
  assert.equal(port(), 8080);
  assert.equal(host(), "example");
  assert.equal(verbose(), true);
  assert.equal(level(), "high");
});

test("a boolean flag followed by true/false takes it as its value", () => {
  const v = runtimeArg.bool({ name: "ipv4-only", doc: "Only v4." });
  parseArgs(["--ipv4-only", "false"]);
  assert.equal(v(), false);
});

test("bad values and unknown options are one-line errors naming the flag", () => {
  runtimeArg.int({ name: "port", default: 8080, min: 1, max: 65535, doc: "Port." });
  assert.throws(() => parseArgs(["--port=http"]), (e: Error) => e instanceof ArgumentError && /invalid value 'http' for --port: expected an integer from 1 to 65535/.test(e.message));
  assert.throws(() => parseArgs(["--port=0"]), /--port/);
  assert.throws(() => parseArgs(["--nope"]), /unknown option --nope/);
  assert.throws(() => parseArgs(["stray"]), /unexpected argument 'stray'/);
  assert.throws(() => parseArgs(["--port"]), /--port needs a value/);
});

test("required arguments must be given, except for --help", () => {
  runtimeArg.string({ name: "key", required: true, doc: "The key." });
  assert.throws(() => parseArgs([]), /missing required option --key/);
  assert.deepEqual(parseArgs(["--help"]), { help: true, version: false });
});

test("the same argument declared twice is shared; with another type it is refused", () => {
  const a = runtimeArg.string({ name: "interface", default: "tap0", doc: "Interface." });
  const b = runtimeArg.string({ name: "interface", default: "tap0", doc: "Interface." });
  parseArgs(["--interface=tap7"]);
  assert.equal(a(), "tap7");
  assert.equal(b(), "tap7");
  assert.throws(() => runtimeArg.int({ name: "interface", default: 1, doc: "x" }), /declared twice with different types/);
});

test("--help groups arguments by section with docs and defaults", () => {
  runtimeArg.string({ name: "hello", default: "Hello World!", doc: "How to say hello." });
  runtimeArg.string({ name: "ipv4", default: "10.0.0.2/24", doc: "Address.", section: "network", docv: "CIDR" });
  const text = usage("demo");
  assert.match(text, /UNIKERNEL ARGUMENTS\n\s+--hello=STRING\n\s+How to say hello\. Expects a string\. Default: "Hello World!"\./);
  assert.match(text, /NETWORK OPTIONS\n\s+--ipv4=CIDR/);
  assert.ok(text.indexOf("UNIKERNEL") < text.indexOf("NETWORK"));
});

test("custom arguments parse with their own function", () => {
  const hex = runtimeArg.custom({
    name: "key",
    doc: "A hex key.",
    expected: "hex digits",
    parse: (s: string) => {
      if (!/^(0x)?[0-9a-f]+$/i.test(s)) throw new Error("not hex");
      return s.replace(/^0x/, "");
    },
  });
  parseArgs(["--key=0xBEEF"]);
  assert.equal(hex(), "BEEF");
  resetArgsForTests();
  runtimeArg.custom({ name: "key", doc: "", expected: "hex digits", parse: () => { throw new Error("not hex"); } });
  assert.throws(() => parseArgs(["--key=zz"]), /expected hex digits \(not hex\)/);
});
