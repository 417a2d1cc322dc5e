export * from './model';
export { parseUnit, stripWhitespace } from './parse';
export { writeUnit, UnwritableUnitError } from './write';
export {
  addSection,
  appendEntry,
  cloneUnit,
  effectiveValue,
  effectiveValues,
  entriesIn,
  entriesOf,
  hasSection,
  removeKey,
  sectionsNamed,
  setsKey,
  unitShape,
  valuesOf,
} from './query';
