/**
 * The character policy, in one place. PostgreSQL's `text` and `jsonb` refuse U+0000, and a lone surrogate
 * is not valid Unicode; SQS refuses characters outside #x9 #xA #xD #x20–#xD7FF #xE000–#xFFFD
 * #x10000–#x10FFFF (and some SQS-compatible servers refuse everything above U+FFFF). So:
 * - task arguments and results holding U+0000 or a lone surrogate are refused (`unstorableFault`);
 * - message bodies are pure ASCII JSON: every other character is written as its `\uXXXX` escape, which
 *   any JSON parser reads back unchanged (`asciiJson`);
 * - every text the library writes itself (traceback, note, error message) is made storable first, each
 *   unstorable character replaced by U+FFFD (`storableText`).
 */

/** U+0000 and lone surrogates (a high surrogate not followed by a low one, or a low one not preceded by a high one). */
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const UNSTORABLE_GLOBAL = new RegExp(UNSTORABLE.source, 'g');

/** Why PostgreSQL cannot store this string (naming the character and its index), or null when it can. */
export function unstorableFault(text: string): string | null {
  const match = UNSTORABLE.exec(text);
  if (!match) return null;
  const code = match[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0');
  const what = code === '0000' ? 'U+0000 (NUL), which PostgreSQL cannot store' : `a lone surrogate U+${code}, which is not valid Unicode`;
  return `holds ${what} at index ${match.index}`;
}

/** The text with U+0000 and lone surrogates replaced by U+FFFD, so PostgreSQL can store it. */
export function storableText(text: string): string;
export function storableText(text: string | null | undefined): string | null;
export function storableText(text: string | null | undefined): string | null {
  if (text === null || text === undefined) return null;
  return UNSTORABLE.test(text) ? text.replace(UNSTORABLE_GLOBAL, '\uFFFD') : text;
}

/** Everything outside printable ASCII that JSON.stringify leaves as is (it already escapes U+0000–U+001F and lone surrogates). */
const NON_ASCII = /[\u007F-\uFFFF]/g;

/** JSON text with every non-ASCII character escaped as `\uXXXX` (astral characters as their surrogate pair). */
export function asciiJson(value: unknown): string {
  return JSON.stringify(value).replace(NON_ASCII, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
