/**
 * HTTP facts the bridge decides on, in one place: what a `content-length` value means, and
 * which statuses carry no body.
 */

/** Statuses whose responses must not carry a body (Fetch's "null body status"). */
export const NULL_BODY = new Set([101, 103, 204, 205, 304]);

/** A digit run: RFC 9110 §8.6 `Content-Length = 1*DIGIT` (no sign, no hex, no exponent). */
const DIGITS = /^[0-9]+$/;

/**
 * The length a `content-length` value declares: -1 when there is none (`undefined`), NaN when
 * it is not one valid length. RFC 9110 §8.6: a list of identical values (what a repeated
 * header becomes once merged, as Bun merges them: `"100000, 100000"`) is that one value;
 * differing values, an empty value, signs, hex, fractions and exponents are invalid. Leading
 * zeros are digits (`007` is 7); optional whitespace around each value is allowed. A length
 * past 2^53 cannot be counted exactly and is invalid too (no body is that large).
 */
export function parseContentLength(value: string | undefined): number {
  if (value === undefined) return -1;
  // The usual form, a plain decimal, without a regex: it reads back as itself.
  const n = +value;
  if (Number.isSafeInteger(n) && n >= 0 && String(n) === value) return n;
  if (DIGITS.test(value)) return toLength(value);
  let first: string | undefined;
  for (const part of value.split(",")) {
    const v = part.trim();
    if (!DIGITS.test(v) || (first !== undefined && v !== first)) return NaN;
    first ??= v;
  }
  return first === undefined ? NaN : toLength(first);
}

function toLength(digits: string): number {
  const n = Number(digits);
  return Number.isSafeInteger(n) ? n : NaN;
}
