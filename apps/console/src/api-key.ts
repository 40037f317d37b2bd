/**
 * A pasted API key as the console sends it. Operators copy keys from `secrets.json` (a JSON
 * string: straight quotes, often a trailing comma), from a chat or mail app (curly quotes) or a
 * terminal (white space): that wrapping is taken off, as white space always was. What is left
 * must be a value an `x-api-key` header can carry and the server can hold: the browser's fetch
 * throws on a header value with a character beyond U+00FF (reported as "the server could not
 * be reached"), and a key with a comma or a control character can never be one the server
 * lists (its *_API_KEYS are comma-separated, each trimmed).
 */

/** Quote marks a copied key may come wrapped in: straight, curly, low-9 and angle quotes. */
const QUOTES = `"'\`\u2018\u2019\u201A\u201B\u201C\u201D\u201E\u201F\u00AB\u00BB\u2039\u203A`;

/** A character no API key holds: a control character, a comma, or one beyond Latin-1. */
// eslint-disable-next-line no-control-regex
const NEVER_IN_A_KEY = /[\u0000-\u001F\u007F-\u009F,]|[^\u0000-\u00FF]/u;

export type PastedKey = { key: string } | { problem: string };

/** The key of a pasted text, or why the text cannot be one (said without the text). */
export function pastedKey(text: string): PastedKey {
  let key = text.trim();
  // `"mdai_adm_…",` as a line of secrets.json: the comma after the string, then its quotes
  if (key.endsWith(',')) key = key.slice(0, -1).trimEnd();
  let start = 0;
  let end = key.length;
  while (start < end && QUOTES.includes(key[start])) start++;
  while (end > start && QUOTES.includes(key[end - 1])) end--;
  key = key.slice(start, end).trim();
  if (!key) return { problem: 'Paste an API key: there is none between the quotes' };
  if (NEVER_IN_A_KEY.test(key)) {
    return {
      problem:
        'This is not a valid key: it holds a character an API key never has (a curly quote, a ' +
        'comma, a line break or another character outside Latin-1). Paste the key alone, as it ' +
        'stands between the quotes in secrets.json.',
    };
  }
  return { key };
}
