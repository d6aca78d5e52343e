// A strict reader of InfluxDB line protocol, written from the protocol's reference rather than
// from our encoder, for tests: the oracle the encoder's output (and whatever a unikernel pushes)
// must satisfy. Throws on anything a collector would reject or read differently.

export type FieldValue = { kind: "int"; value: bigint } | { kind: "float"; value: number } | { kind: "bool"; value: boolean } | { kind: "string"; value: string };

export interface ParsedLine {
  measurement: string;
  tags: Record<string, string>;
  fields: Record<string, FieldValue>;
  timestamp: bigint | null;
}

/** Reads one token up to an unescaped stop character; `escapable` are the characters a backslash may escape. */
function token(line: string, at: number, stops: string, escapable: string, what: string): [string, number] {
  let out = "";
  let i = at;
  while (i < line.length && !stops.includes(line[i]!)) {
    const c = line[i]!;
    if (c === "\\") {
      const next = line[i + 1];
      if (next === undefined || !escapable.includes(next)) throw new Error(`${what}: a backslash must escape one of ${JSON.stringify(escapable)} (at ${i} in ${JSON.stringify(line)})`);
      out += next;
      i += 2;
      continue;
    }
    if (c === "\n" || c === "\r") throw new Error(`${what}: newline inside a line`);
    if (c === '"' && what !== "string") {
      // Quotes are legal in keys, but our encoder never writes them: flag it.
      throw new Error(`${what}: unexpected quote in ${JSON.stringify(line)}`);
    }
    out += c;
    i++;
  }
  if (out === "") throw new Error(`${what} is empty at ${at} in ${JSON.stringify(line)}`);
  return [out, i];
}

const FLOAT = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

function fieldValue(text: string, line: string): FieldValue {
  if (/^-?\d+i$/.test(text)) {
    const value = BigInt(text.slice(0, -1));
    if (value > 2n ** 63n - 1n || value < -(2n ** 63n)) throw new Error(`integer out of int64 range: ${text}`);
    return { kind: "int", value };
  }
  if (/^(t|T|true|True|TRUE)$/.test(text)) return { kind: "bool", value: true };
  if (/^(f|F|false|False|FALSE)$/.test(text)) return { kind: "bool", value: false };
  if (FLOAT.test(text)) return { kind: "float", value: Number(text) };
  throw new Error(`field value ${JSON.stringify(text)} is not an integer (…i), float, boolean or string in ${JSON.stringify(line)}`);
}

export function parseLine(line: string): ParsedLine {
  if (line.startsWith("#") || line.trim() === "") throw new Error("not a data line");
  let [measurement, i] = token(line, 0, ", ", ", \\", "measurement");
  const tags: Record<string, string> = {};
  while (line[i] === ",") {
    let key: string;
    let value: string;
    [key, i] = token(line, i + 1, ",= ", ",= \\", "tag key");
    if (line[i] !== "=") throw new Error(`tag ${key} has no '=' in ${JSON.stringify(line)}`);
    [value, i] = token(line, i + 1, ", ", ",= \\", "tag value");
    if (key in tags) throw new Error(`tag ${key} given twice`);
    tags[key] = value;
  }
  if (line[i] !== " ") throw new Error(`expected one space before the fields at ${i} in ${JSON.stringify(line)}`);
  i++;
  const fields: Record<string, FieldValue> = {};
  for (;;) {
    let key: string;
    [key, i] = token(line, i, ",= ", ",= \\", "field key");
    if (line[i] !== "=") throw new Error(`field ${key} has no '=' in ${JSON.stringify(line)}`);
    i++;
    let value: FieldValue;
    if (line[i] === '"') {
      let s = "";
      i++;
      while (i < line.length && line[i] !== '"') {
        if (line[i] === "\\" && (line[i + 1] === '"' || line[i + 1] === "\\")) i++;
        s += line[i++];
      }
      if (line[i] !== '"') throw new Error("unterminated string field");
      i++;
      value = { kind: "string", value: s };
    } else {
      const end = /[, ]|$/.exec(line.slice(i))!.index + i;
      value = fieldValue(line.slice(i, end), line);
      i = end;
    }
    if (key in fields) throw new Error(`field ${key} given twice`);
    fields[key] = value;
    if (line[i] === ",") {
      i++;
      continue;
    }
    break;
  }
  let timestamp: bigint | null = null;
  if (i < line.length) {
    if (line[i] !== " ") throw new Error(`expected a space before the timestamp at ${i} in ${JSON.stringify(line)}`);
    const ts = line.slice(i + 1);
    if (!/^-?\d+$/.test(ts)) throw new Error(`timestamp ${JSON.stringify(ts)} is not an integer`);
    timestamp = BigInt(ts);
  }
  return { measurement, tags, fields, timestamp };
}

/** Every line of a payload (newline-terminated lines only: a partial last line is an error). */
export function parseLines(text: string): ParsedLine[] {
  if (text !== "" && !text.endsWith("\n")) throw new Error(`payload does not end with a newline: ${JSON.stringify(text.slice(-80))}`);
  return text
    .split("\n")
    .slice(0, -1)
    .map((l) => parseLine(l));
}
