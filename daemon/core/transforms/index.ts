export * from './model';
export { parseTransformFile, type TransformParseResult } from './parse';
export { isPlaceholder, labelKeyOf, missingLabels, PLACEHOLDER_LIST, PLACEHOLDERS, placeholderValue, substitutePlaceholders, unknownPlaceholders } from './placeholders';
export { buildTransformSet, emptyTransformSet, groupsWithTransforms, loadTransformSet, transformsFor, unusedTransforms } from './set';
export { isTemplateName, parseTemplateFile, substituteUnit, templateFileName, TEMPLATE_PREFIX, type TemplateParseResult } from './templates';
export { applyTransform, applyTransforms, type ApplyOptions } from './apply';
