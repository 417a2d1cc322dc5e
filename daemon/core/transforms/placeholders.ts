// `{{...}}` in transform values. An unknown name is an error: a typo left as a literal
// would reach a running container unnoticed. `{{label.KEY}}` is known when KEY is a
// label key at all; whether the host has that label is known only once the host is
// (missingLabels), so one transform or spec serves every host of a fleet.
import { LABEL_KEY_PATTERN } from '../config/schema';
import type { Identity } from './model';

export const PLACEHOLDERS = ['name', 'user', 'uid', 'home', 'host'] as const;

/** `{{label.KEY}}`: the host's label KEY (docs/fleet.md#per-host-values). */
export const LABEL_PLACEHOLDER_PREFIX = 'label.';

/** Every placeholder as written in a hint. */
export const PLACEHOLDER_LIST = `${PLACEHOLDERS.map((p) => `{{${p}}}`).join(', ')}, {{label.KEY}}`;

const PATTERN = /\{\{([^{}]*)\}\}/g;

/** The label key of `label.KEY`, when the inside of the braces is one. */
export function labelKeyOf(inner: string): string | undefined {
  if (!inner.startsWith(LABEL_PLACEHOLDER_PREFIX)) return undefined;
  const key = inner.slice(LABEL_PLACEHOLDER_PREFIX.length);
  return LABEL_KEY_PATTERN.test(key) ? key : undefined;
}

export function isPlaceholder(inner: string): boolean {
  return (PLACEHOLDERS as readonly string[]).includes(inner) || labelKeyOf(inner) !== undefined;
}

/** The value of a placeholder for this identity; undefined for an unknown one or a label the host lacks. */
export function placeholderValue(inner: string, identity: Identity): string | undefined {
  switch (inner) {
    case 'name':
      return identity.name;
    case 'user':
      return identity.user;
    case 'uid':
      return String(identity.uid);
    case 'home':
      return identity.home;
    case 'host':
      return identity.host;
  }
  const key = labelKeyOf(inner);
  return key !== undefined && Object.hasOwn(identity.labels, key) ? identity.labels[key] : undefined;
}

/** Every `{{...}}` in the value whose inside is not exactly a known name. */
export function unknownPlaceholders(value: string): string[] {
  const unknown: string[] = [];
  for (const m of value.matchAll(PATTERN)) {
    if (!isPlaceholder(m[1]!)) unknown.push(m[0]);
  }
  return unknown;
}

/** The label keys the value's `{{label.KEY}}` placeholders name that the host has no label for. */
export function missingLabels(value: string, identity: Identity): string[] {
  const missing: string[] = [];
  for (const m of value.matchAll(PATTERN)) {
    const key = labelKeyOf(m[1]!);
    if (key !== undefined && !Object.hasOwn(identity.labels, key) && !missing.includes(key)) missing.push(key);
  }
  return missing;
}

export function substitutePlaceholders(value: string, identity: Identity): string {
  // Unknown names were refused when the transform was read, and a missing label is the
  // rendered workload's problem (render.ts): leave both as written.
  return value.replace(PATTERN, (whole, inner: string) => placeholderValue(inner, identity) ?? whole);
}
