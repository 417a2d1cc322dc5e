// The version of moor's JSON shapes: what every `--json` prints and what `[notify]` sends.

/**
 * The version of the shape of every `--json` object and notification, its first key
 * `"schema"`: raised when a key is removed or changes meaning (a new key does not raise
 * it), so a script can refuse a shape it was not written for (docs/design.md §10).
 */
export const JSON_SCHEMA = 1;
