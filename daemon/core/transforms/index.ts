export * from './model';
export { parseTransformFile, type TransformParseResult } from './parse';
export { PLACEHOLDERS, substitutePlaceholders, unknownPlaceholders } from './placeholders';
export { buildTransformSet, emptyTransformSet, groupsWithTransforms, loadTransformSet, transformsFor } from './set';
export { applyTransform, applyTransforms, type ApplyOptions } from './apply';
