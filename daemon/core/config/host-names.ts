// A host's name and labels reach git ref names (moor-status/<name>), spec values
// ({{host}}, {{label.KEY}}) and the fleet view: one line of plain characters each. Apart
// from the config schema so that a command line checking an option loads no zod.
export const HOST_NAME_PATTERN = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
export const LABEL_KEY_PATTERN = /^[a-z0-9]([a-z0-9_.-]{0,61}[a-z0-9])?$/;
export const LABEL_VALUE_PATTERN = /^[A-Za-z0-9_.:@/+-]{0,128}$/;
