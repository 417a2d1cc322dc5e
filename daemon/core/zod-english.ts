// zod's English messages ("Invalid input: expected number, received string", "Too big:
// expected number to be <=10"), which the errors of a bad config or state file quote. zod's
// classic API sets them up when its first schema is built; the mini API, which moor's
// schemas use to start faster, leaves them unset (every issue would read "Invalid input").
// Imported by the config schema and by the state files' reader (state/atomic.ts), which
// every state record module uses, so none of them parses without the messages.
import { config } from 'zod/mini';
import en from 'zod/v4/locales/en.js';

config(en());
