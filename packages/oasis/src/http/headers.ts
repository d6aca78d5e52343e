// Header fields as an ordered list of (name, value) pairs with case-insensitive lookup. HTTP
// messages carry a handful of fields, so a linear scan beats a hash map here.

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// Field values: visible characters, spaces, tabs and obs-text; never CR, LF or NUL.
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

export function isToken(s: string): boolean {
  return TOKEN.test(s);
}

export function isFieldValue(s: string): boolean {
  return FIELD_VALUE.test(s);
}

export type HeadersInit = HttpHeaders | Record<string, string | number> | ReadonlyArray<readonly [string, string]> | Iterable<readonly [string, string]>;

export class HttpHeaders implements Iterable<[string, string]> {
  /** Lower-case names, parallel to `values`. */
  #names: string[] = [];
  #values: string[] = [];

  constructor(init?: HeadersInit) {
    if (!init) return;
    if (init instanceof HttpHeaders) {
      this.#names.push(...init.#names);
      this.#values.push(...init.#values);
    } else if (Symbol.iterator in init) {
      for (const [n, v] of init as Iterable<readonly [string, string]>) this.append(n, v);
    } else {
      for (const [n, v] of Object.entries(init)) this.append(n, String(v));
    }
  }

  /** Adopts the arrays without validation: for fields the parser has checked already. */
  static trusted(names: string[], values: string[]): HttpHeaders {
    const h = new HttpHeaders();
    h.#names = names;
    h.#values = values;
    return h;
  }

  get size(): number {
    return this.#names.length;
  }

  /** The value, or the comma-joined values when the field repeats; null when absent. */
  get(name: string): string | null {
    const n = name.toLowerCase();
    let out: string | null = null;
    for (let i = 0; i < this.#names.length; i++) {
      if (this.#names[i] === n) out = out === null ? this.#values[i]! : `${out}, ${this.#values[i]}`;
    }
    return out;
  }

  getAll(name: string): string[] {
    const n = name.toLowerCase();
    const out: string[] = [];
    for (let i = 0; i < this.#names.length; i++) if (this.#names[i] === n) out.push(this.#values[i]!);
    return out;
  }

  has(name: string): boolean {
    return this.#names.includes(name.toLowerCase());
  }

  set(name: string, value: string | number): this {
    this.delete(name);
    return this.append(name, value);
  }

  append(name: string, value: string | number): this {
    const v = String(value).trim();
    if (!isToken(name)) throw new TypeError(`invalid HTTP header name ${JSON.stringify(name)}: use letters, digits and !#$%&'*+-.^_\`|~`);
    if (!isFieldValue(v)) throw new TypeError(`invalid value for HTTP header ${name}: CR, LF, NUL and other control characters are not allowed`);
    this.#names.push(name.toLowerCase());
    this.#values.push(v);
    return this;
  }

  delete(name: string): this {
    const n = name.toLowerCase();
    for (let i = this.#names.length - 1; i >= 0; i--) {
      if (this.#names[i] === n) {
        this.#names.splice(i, 1);
        this.#values.splice(i, 1);
      }
    }
    return this;
  }

  /** Whether a comma-separated field contains `token` (case-insensitive), e.g. Connection: close. */
  hasToken(name: string, token: string): boolean {
    const n = name.toLowerCase();
    const t = token.toLowerCase();
    for (let i = 0; i < this.#names.length; i++) {
      if (this.#names[i] !== n) continue;
      for (const part of this.#values[i]!.split(",")) if (part.trim().toLowerCase() === t) return true;
    }
    return false;
  }

  *[Symbol.iterator](): Iterator<[string, string]> {
    for (let i = 0; i < this.#names.length; i++) yield [this.#names[i]!, this.#values[i]!];
  }

  /** Appends "name: value\r\n" for every field whose name `skip` does not hold. */
  serializeInto(out: string, skip?: ReadonlySet<string>): string {
    for (let i = 0; i < this.#names.length; i++) {
      if (skip?.has(this.#names[i]!)) continue;
      out += `${this.#names[i]}: ${this.#values[i]}\r\n`;
    }
    return out;
  }
}
