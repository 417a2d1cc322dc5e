// The sd-notify package ships no types; only the functions moor calls are declared.
declare module 'sd-notify' {
  export function sendState(state: string): void;
  export function watchdogInterval(): number;
  const sdNotify: { sendState(state: string): void; watchdogInterval(): number };
  export default sdNotify;
}
