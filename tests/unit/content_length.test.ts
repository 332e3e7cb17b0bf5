import { expect, test } from "bun:test";
import { parseContentLength } from "../../src/_content_length.ts";
import { decodeResponse, encodeResponse } from "../../src/_protocol.ts";

// RFC 9110 §8.6: Content-Length = 1*DIGIT; a list of identical values is that value.
test.each([
  [undefined, -1],
  ["0", 0],
  ["100000", 100000],
  ["007", 7],
  ["100000, 100000", 100000],
  ["5,5,5", 5],
  [" 5 ,\t5", 5],
  ["9007199254740991", 9007199254740991],
])("content-length %p is %p", (value, length) => {
  expect(parseContentLength(value)).toBe(length);
});

test.each(["", " ", "+5", "-5", "0x5", "5.0", "1e1", "5 5", "5, 6", "05, 5", "5,", ",5", "abc", "9007199254740993", "99999999999999999999999"])(
  "content-length %p is not a length",
  (value) => {
    expect(parseContentLength(value)).toBeNaN();
  },
);

test("the app's content-length, however spelled and repeated, is read from the response head", () => {
  const head = (pairs: [string, string][]) => decodeResponse(encodeResponse(200, pairs)).length;
  expect(head([["content-type", "text/plain"]])).toBe(-1);
  expect(head([["Content-Length", "12"]])).toBe(12);
  expect(head([["content-length", "12"], ["CONTENT-LENGTH", "12"]])).toBe(12);
  expect(head([["content-length", "12"], ["content-length", "13"]])).toBeNaN();
  expect(head([["content-length", "twelve"]])).toBeNaN();
});
