// The name rule for Linux users moor creates (and for group directories, which name
// transforms). It is the portable subset every distribution's useradd accepts: no dots,
// no upper case, no trailing '$', so one repository deploys the same on every host.

export const USER_NAME_MAX = 32;

/**
 * The characters of the rule, unanchored, for patterns that embed a name (temporary
 * file names in the state dir). Everything else uses the functions below.
 */
export const USER_NAME_CHARS = '[a-z_][a-z0-9_-]*';

/** The whole rule but the length: one line of `[a-z_][a-z0-9_-]*`. */
export const USER_NAME_PATTERN = new RegExp(`^${USER_NAME_CHARS}$`);

/** True when `name` is a valid user name: `[a-z_][a-z0-9_-]*`, at most 32 characters. */
export function isValidUserName(name: string): boolean {
  return USER_NAME_PATTERN.test(name) && name.length <= USER_NAME_MAX;
}

/**
 * Why `name` breaks the character rule, or undefined when it follows it. Length is left
 * to the caller, which knows whether a prefix is added.
 */
export function nameCharsViolation(name: string): string | undefined {
  if (name === '') return 'is empty';
  const first = name[0] ?? '';
  if (!/[a-z_]/.test(first)) {
    return `starts with ${JSON.stringify(first)}; it must start with a lowercase letter or "_"`;
  }
  const bad = [...new Set([...name].filter((c) => !/[a-z0-9_-]/.test(c)))];
  if (bad.length > 0) {
    const list = bad.map((c) => JSON.stringify(c)).join(', ');
    return `contains ${list}; only lowercase letters, digits, "_" and "-" are allowed`;
  }
  return undefined;
}

/** Why `name` is not a valid user name (characters or length), or undefined. */
export function userNameViolation(name: string): string | undefined {
  return (
    nameCharsViolation(name) ??
    (name.length > USER_NAME_MAX
      ? `is ${name.length} characters long; Linux user names are at most ${USER_NAME_MAX}`
      : undefined)
  );
}

export const NAME_RULE_HINT =
  'use only lowercase letters, digits, "_" and "-", starting with a letter or "_"';
