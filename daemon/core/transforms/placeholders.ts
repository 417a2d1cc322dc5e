// `{{...}}` in transform values. An unknown name is an error: a typo left as a literal
// would reach a running container unnoticed.
import type { Identity } from './model';

export const PLACEHOLDERS = ['name', 'user', 'uid', 'home'] as const;

const PATTERN = /\{\{([^{}]*)\}\}/g;

/** Every `{{...}}` in the value whose inside is not exactly a known name. */
export function unknownPlaceholders(value: string): string[] {
  const unknown: string[] = [];
  for (const m of value.matchAll(PATTERN)) {
    if (!(PLACEHOLDERS as readonly string[]).includes(m[1]!)) unknown.push(m[0]);
  }
  return unknown;
}

export function substitutePlaceholders(value: string, identity: Identity): string {
  const values = new Map<string, string>([
    ['name', identity.name],
    ['user', identity.user],
    ['uid', String(identity.uid)],
    ['home', identity.home],
  ]);
  // Unknown names were refused when the transform was read; leave them as written.
  return value.replace(PATTERN, (whole, inner: string) => values.get(inner) ?? whole);
}
