// The one order moor sorts names, paths and keys in: by UTF-16 code unit, as `<` compares.
// Not localeCompare: its order depends on the locale, and its first use maps ICU's
// collation data into the process (about 3 MiB of a daemon that idles in 60).
export function byText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
