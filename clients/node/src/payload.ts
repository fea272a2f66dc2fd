// The kernel's payload grammar, both ways (DESIGN.md, "Payload grammar").
//
// `key:value` pairs joined by commas. The first `:` of a token splits key
// from value, and a token without `:` continues the previous value, comma
// included. The grammar has no escape, so a value fits in a payload only if
// every comma in it is followed by text without a `:` up to the next comma,
// and it holds no NUL. Values that may not (stored values, driver input,
// policies) never go in the payload: the verbs that take them get them in
// the binary `data` field, where any bytes round-trip.
//
// SPDX-License-Identifier: Apache-2.0

const KEY = /^[a-z_][a-z0-9_]*$/;

export type Scalar = string | number | boolean | bigint;

/** A value the payload grammar cannot carry; nothing was sent. */
export class PayloadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PayloadError';
  }
}

/** A number as a plain decimal (the kernel refuses exponents). */
function plainNumber(n: number): string {
  if (!Number.isFinite(n)) throw new PayloadError(`${n} is not a finite number`);
  const text = String(n);
  const m = /^(-?)(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(text);
  if (!m) return text;
  const [, sign, lead, frac = '', expText] = m;
  const exp = Number(expText);
  const digits = lead + frac;
  if (exp < 0) return `${sign}0.${'0'.repeat(-exp - 1)}${digits}`;
  return sign + digits + '0'.repeat(Math.max(0, exp - frac.length));
}

/** A value as the kernel reads it: booleans as true/false, numbers plain. */
export function formatValue(value: Scalar): string {
  switch (typeof value) {
    case 'boolean': return value ? 'true' : 'false';
    case 'number': return plainNumber(value);
    case 'bigint': return value.toString();
    case 'string': return value;
    default: throw new PayloadError(`cannot send a ${typeof value} in a payload`);
  }
}

// Keys already checked: a call's keys are nearly always the same few names,
// and this is on every call's path (bounded: callers may make keys).
const goodKeys = new Set<string>();

function isKey(key: string): boolean {
  if (goodKeys.has(key)) return true;
  if (!KEY.test(key)) return false;
  if (goodKeys.size < 1024) goodKeys.add(key);
  return true;
}

/** Throws PayloadError unless key:value parses back as itself. */
export function checkPair(key: string, value: string): void {
  if (!isKey(key)) {
    throw new PayloadError(`invalid payload key '${key}' (keys match [a-z_][a-z0-9_]*)`);
  }
  if (value.includes('\0')) throw new PayloadError(`the value of '${key}' holds a NUL byte`);
  let comma = value.indexOf(',');
  while (comma >= 0) {
    const next = value.indexOf(',', comma + 1);
    const part = value.slice(comma + 1, next < 0 ? undefined : next);
    if (part.includes(':')) {
      throw new PayloadError(`the value of '${key}' has a ':' after a comma, which the ` +
        'payload grammar would read as a new key');
    }
    comma = next;
  }
}

export type Pairs = ReadonlyArray<readonly [string, Scalar | null | undefined]>;

/** The payload of pairs, skipping those whose value is null or undefined. */
export function encode(pairs: Pairs): string {
  let out = '';
  for (let i = 0; i < pairs.length; i++) {
    const key = pairs[i][0];
    const value = pairs[i][1];
    if (value === undefined || value === null) continue;
    const text = typeof value === 'string' ? value : formatValue(value);
    if (!goodKeys.has(key) || text.includes(',') || text.includes('\0')) checkPair(key, text);
    out += (out ? ',' : '') + key + ':' + text;
  }
  return out;
}

/**
 * The pairs of a result. `tail` names a key the kernel always writes last
 * and whose value is free text (a driver's output, a reason): everything
 * after it is its value. A token whose would-be key is not a key continues
 * the previous value, so free text with ": " in it stays whole. Any key is
 * an own property ("__proto__" too: defined, not assigned).
 */
export function parse(result: string, tail?: string): Record<string, string> {
  const pairs: Record<string, string> = {};
  let tailValue: string | undefined;
  if (tail !== undefined) {
    const at = result.indexOf(`,${tail}:`);
    if (at >= 0) {
      tailValue = result.slice(at + tail.length + 2);
      result = result.slice(0, at);
    } else if (result.startsWith(`${tail}:`)) {
      tailValue = result.slice(tail.length + 1);
      result = '';
    }
  }
  let last: string | undefined;
  if (result) {
    const tokens = result.split(',');
    for (let i = 0; i < tokens.length; i++) {
      const token = tokens[i];
      const colon = token.indexOf(':');
      const key = colon >= 0 ? token.slice(0, colon) : '';
      if (colon >= 0 && isKey(key)) {
        put(pairs, key, token.slice(colon + 1));
        last = key;
      } else if (last !== undefined) {
        put(pairs, last, `${pairs[last]},${token}`);
      } else {
        throw new Error(`result '${result.slice(0, 64)}' does not start with key:value`);
      }
    }
  }
  if (tailValue !== undefined && tail !== undefined) put(pairs, tail, tailValue);
  return pairs;
}

function put(pairs: Record<string, string>, key: string, value: string): void {
  if (key === '__proto__') {
    Object.defineProperty(pairs, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    pairs[key] = value;
  }
}
