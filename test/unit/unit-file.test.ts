import { describe, expect, it } from 'vitest';
import {
  cloneUnit,
  effectiveValue,
  effectiveValues,
  entriesOf,
  hasSection,
  isEntry,
  parseUnit,
  removeKey,
  setsKey,
  unitShape,
  valuesOf,
  writeUnit,
  UnwritableUnitError,
  type UnitFile,
} from '../../daemon/core/unit-file';

/** [section, key, value] triples in order: what systemd sees. */
function triples(unit: UnitFile): [string, string, string][] {
  return unit.sections.flatMap((s) =>
    s.items.filter(isEntry).map((e) => [s.name, e.key, e.value] as [string, string, string]),
  );
}

function clean(text: string): UnitFile {
  const { unit, issues } = parseUnit(text);
  expect(issues).toEqual([]);
  return unit;
}

function roundTrips(text: string): void {
  const first = parseUnit(text).unit;
  expect(unitShape(parseUnit(writeUnit(first)).unit)).toEqual(unitShape(first));
}

describe('parseUnit: lines and comments', () => {
  it('reads sections and assignments with their lines', () => {
    const { unit, issues } = parseUnit('[Unit]\nDescription=web\n\n[Container]\nImage=nginx\n', 'web.container');
    expect(issues).toEqual([]);
    expect(unit.sections.map((s) => [s.name, s.line])).toEqual([
      ['Unit', 1],
      ['Container', 4],
    ]);
    expect(unit.sections[1]!.items).toEqual([{ key: 'Image', value: 'nginx', line: 5, source: 'web.container' }]);
  });

  it('treats # and ; as comments, also after leading whitespace, and keeps them', () => {
    const unit = clean('# top\n[A]\n; semi\n   # indented\nK=v # not a comment\n');
    expect(unit.preamble).toEqual([{ comment: '# top', line: 1 }]);
    expect(unit.sections[0]!.items).toEqual([
      { comment: '; semi', line: 3 },
      { comment: '# indented', line: 4 },
      { key: 'K', value: 'v # not a comment', line: 5 },
    ]);
  });

  it('strips whitespace around keys and values but keeps quotes and escapes as written', () => {
    const unit = clean('[A]\n  Key  =   "a b" \\t\\x41  \n');
    expect(triples(unit)).toEqual([['A', 'Key', '"a b" \\t\\x41']]);
  });

  it('splits only at the first =', () => {
    expect(triples(clean('[A]\nEnvironment=A=1 B=2\n'))).toEqual([['A', 'Environment', 'A=1 B=2']]);
  });

  it('strips a UTF-8 BOM', () => {
    const unit = clean('\uFEFF[Unit]\nA=1\n');
    expect(unit.sections[0]!.name).toBe('Unit');
  });

  it('reads CRLF and lone CR line endings', () => {
    expect(triples(clean('[A]\r\nK=1\r\nL=2\r\n'))).toEqual([
      ['A', 'K', '1'],
      ['A', 'L', '2'],
    ]);
    expect(triples(clean('[A]\rK=1\r'))).toEqual([['A', 'K', '1']]);
  });

  it('does not strip non-breaking spaces, as systemd does not', () => {
    expect(triples(clean('[A]\nK=\u00a0v\u00a0\n'))).toEqual([['A', 'K', '\u00a0v\u00a0']]);
  });
});

describe('parseUnit: continuations', () => {
  it('joins a line ending in a backslash with the next, the backslash becoming a space', () => {
    const unit = clean('[Container]\nExec="/bin/x" --a \\\n  "arg 2"\nNext=1\n');
    expect(triples(unit)).toEqual([
      ['Container', 'Exec', '"/bin/x" --a    "arg 2"'],
      ['Container', 'Next', '1'],
    ]);
    expect(entriesOf(unit, 'Container', 'Next')[0]!.line).toBe(4);
    expect(entriesOf(unit, 'Container', 'Exec')[0]!.line).toBe(2);
  });

  it('reads an escaped backslash at the end of a line as a value, not a continuation', () => {
    expect(triples(clean('[A]\nK=a\\\\\nL=b\n'))).toEqual([
      ['A', 'K', 'a\\\\'],
      ['A', 'L', 'b'],
    ]);
    // Three backslashes: one escaped pair, then a continuation.
    expect(triples(clean('[A]\nK=a\\\\\\\nb\n'))).toEqual([['A', 'K', 'a\\\\ b']]);
  });

  it('continues a line whose final backslash is followed by whitespace, as Podman reads Quadlet files', () => {
    const unit = clean('[Container]\nExec="/bin/x" --a \\ \t\n  "arg 2"\nPublishPort=80:80\n');
    expect(triples(unit)).toEqual([
      ['Container', 'Exec', '"/bin/x" --a    "arg 2"'],
      ['Container', 'PublishPort', '80:80'],
    ]);
  });

  it('skips a comment line inside a continuation and keeps it before the entry', () => {
    const unit = clean('[A]\nK=one \\\n# a comment\n two\n');
    expect(triples(unit)).toEqual([['A', 'K', 'one   two']]);
    expect(unit.sections[0]!.items[0]).toEqual({ comment: '# a comment', line: 3 });
  });

  it('ends a continuation at an empty line', () => {
    const unit = clean('[Container]\nExec=true \\\n\n# anything\nImage=x\n');
    expect(triples(unit)).toEqual([
      ['Container', 'Exec', 'true'],
      ['Container', 'Image', 'x'],
    ]);
  });

  it('does not continue a comment ending in a backslash', () => {
    const unit = clean('[A]\n# comment \\\nK=v\n');
    expect(triples(unit)).toEqual([['A', 'K', 'v']]);
  });

  it('reports a file that ends inside a continuation, keeping the value as systemd does', () => {
    const { unit, issues } = parseUnit('[A]\nK=v \\\n');
    expect(issues).toEqual([expect.objectContaining({ code: 'unterminated-continuation', line: 2 })]);
    expect(triples(unit)).toEqual([['A', 'K', 'v']]);
  });
});

describe('parseUnit: repetition, empty assignments, case', () => {
  it('keeps every value of a repeated key in order', () => {
    const unit = clean('[Container]\nVolume=a:/a\nVolume=b:/b\nVolume=c:/c\n');
    expect(valuesOf(unit, 'Container', 'Volume')).toEqual(['a:/a', 'b:/b', 'c:/c']);
  });

  it('keeps repeated sections apart, in order, and queries across them', () => {
    const unit = clean('[Service]\nEnvironment=A=1\n[Unit]\nX=1\n[Service]\nEnvironment=B=2\n');
    expect(unit.sections.map((s) => s.name)).toEqual(['Service', 'Unit', 'Service']);
    expect(valuesOf(unit, 'Service', 'Environment')).toEqual(['A=1', 'B=2']);
  });

  it('reads Key= as an empty assignment that resets a list', () => {
    const unit = clean('[Service]\nEnvironment=A=1\nEnvironment=\nEnvironment=B=2\n');
    expect(valuesOf(unit, 'Service', 'Environment')).toEqual(['A=1', '', 'B=2']);
    expect(effectiveValues(unit, 'Service', 'Environment')).toEqual(['B=2']);
  });

  it('takes the last assignment as the effective single value', () => {
    const unit = clean('[Container]\nImage=a\nImage=b\n[Container]\nImage=\n');
    expect(effectiveValue(unit, 'Container', 'Image')).toBe('');
    expect(effectiveValue(unit, 'Container', 'Rootfs')).toBeUndefined();
    expect(setsKey(unit, 'Container', 'Image')).toBe(true);
  });

  it('treats section and key names case-sensitively', () => {
    const unit = clean('[container]\nimage=a\n[Container]\nImage=b\n');
    expect(hasSection(unit, 'container')).toBe(true);
    expect(valuesOf(unit, 'Container', 'Image')).toEqual(['b']);
    expect(valuesOf(unit, 'Container', 'image')).toEqual([]);
  });
});

describe('parseUnit: what systemd ignores with a warning', () => {
  it.each([
    ['a line with no =', '[A]\nNoEquals\n', 'missing-equals', 2],
    ['an assignment before any section', 'K=v\n[A]\n', 'outside-section', 1],
    ['an empty key', '[A]\n  =v\n', 'empty-key', 2],
    ['a header with trailing text', '[A] x\nK=v\n', 'bad-section', 1],
    ['an unclosed header', '[A\n', 'bad-section', 1],
    ['an empty header', '[]\n', 'bad-section', 1],
    ['a header with a quote', '[A"b]\n', 'bad-section', 1],
  ])('reports %s', (_what, text, code, line) => {
    const { issues } = parseUnit(text);
    expect(issues).toEqual([expect.objectContaining({ code, line })]);
  });

  it('ignores the reported line and keeps the rest', () => {
    const { unit } = parseUnit('[A]\nbroken\nK=v\n');
    expect(triples(unit)).toEqual([['A', 'K', 'v']]);
  });

  it('drops assignments under a broken header without piling up reports', () => {
    const { unit, issues } = parseUnit('[A\nK=v\n[B]\nL=w\n');
    expect(issues).toHaveLength(1);
    expect(triples(unit)).toEqual([['B', 'L', 'w']]);
  });
});

describe('writeUnit', () => {
  it('writes one Key=Value per entry, comments in place, a blank line between sections', () => {
    const text = writeUnit(clean('# head\n[Unit]\n  Description = web \n; note\n[Container]\nImage=nginx\nVolume=\n'));
    expect(text).toBe('# head\n\n[Unit]\nDescription=web\n; note\n\n[Container]\nImage=nginx\nVolume=\n');
  });

  it('writes an empty unit as nothing', () => {
    expect(writeUnit({ preamble: [], sections: [] })).toBe('');
  });

  it.each([
    ['continuations and comments inside them', '[A]\nK=one \\\n# c\n two\nL=x\\\\\n'],
    ['repeated keys, sections and resets', '[S]\nE=1\nE=\n[U]\nX=1\n[S]\nE=2\n'],
    ['CRLF and whitespace around =', '\uFEFF[A]\r\n  K =  v  \r\n;c\r\n'],
    ['quotes and escapes', '[Container]\nExec=/bin/sh -c "echo \\"hi\\" \\\\n"\nLabel="a=b c"\n'],
  ])('keeps the meaning of %s', (_what, text) => roundTrips(text));

  it('refuses what the syntax cannot carry rather than changing its meaning', () => {
    const unit: UnitFile = { preamble: [], sections: [{ name: 'A', line: 1, items: [{ key: 'K', value: 'a\nb', line: 1 }] }] };
    expect(() => writeUnit(unit)).toThrow(UnwritableUnitError);
    unit.sections[0]!.items = [{ key: 'K', value: 'ends\\', line: 1 }];
    expect(() => writeUnit(unit)).toThrow(/backslash/);
    unit.sections[0]!.items = [{ key: 'K=x', value: 'v', line: 1 }];
    expect(() => writeUnit(unit)).toThrow(UnwritableUnitError);
  });
});

describe('editing helpers', () => {
  it('clones deeply and removes a key from every repeated section', () => {
    const unit = clean('[S]\nE=1\nF=2\n[S]\nE=3\n');
    const copy = cloneUnit(unit);
    expect(removeKey(copy, 'S', 'E')).toBe(2);
    expect(triples(copy)).toEqual([['S', 'F', '2']]);
    expect(valuesOf(unit, 'S', 'E')).toEqual(['1', '3']);
  });
});
