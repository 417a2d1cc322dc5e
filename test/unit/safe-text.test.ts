import { describe, expect, it } from 'vitest';
import { safeJson, safeLines, safeText } from '../../daemon/core/safe-text';

const cp = (n: number) => String.fromCodePoint(n);

describe('safeText', () => {
  it('leaves printable text alone, any script, backslashes included', () => {
    for (const s of ['ExecStart=/bin/sh -c "echo hi"', 'Environment=A=1 \\', 'café ünïcødé 日本語 🙂 עברית', '~', ' ']) {
      expect(safeText(s)).toBe(s);
    }
  });

  it('escapes every C0 control as \\xNN, but tab', () => {
    for (let n = 0; n < 0x20; n++) {
      const want = n === 9 ? '\t' : `\\x${n.toString(16).padStart(2, '0')}`;
      expect(safeText(`a${cp(n)}b`)).toBe(`a${want}b`);
    }
    expect(safeText('\x1b[2K\rok')).toBe('\\x1b[2K\\x0dok');
  });

  it('keeps newlines only in a block of lines', () => {
    expect(safeText('one\ntwo')).toBe('one\\x0atwo');
    expect(safeLines('one\ntwo\r\n\x1b[1A')).toBe('one\ntwo\\x0d\n\\x1b[1A');
  });

  it('escapes DEL and every C1 control', () => {
    expect(safeText('\x7f')).toBe('\\x7f');
    for (let n = 0x80; n <= 0x9f; n++) expect(safeText(cp(n))).toBe(`\\x${n.toString(16)}`);
    expect(safeText('\u009b2K')).toBe('\\x9b2K'); // CSI as one C1 character
  });

  it('escapes every bidi control', () => {
    const bidi = [0x061c, 0x200e, 0x200f, 0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069];
    for (const n of bidi) expect(safeText(`x${cp(n)}y`)).toBe(`x\\u{${n.toString(16).toUpperCase().padStart(4, '0')}}y`);
    expect(safeText('Image=\u202Eevil\u202C')).toBe('Image=\\u{202E}evil\\u{202C}');
  });

  it('escapes invisible format characters and the line and paragraph separators', () => {
    const invisible = [0x00ad, 0x034f, 0x115f, 0x3164, 0xffa0, 0xfe0f, 0x2065, 0xe0100, 0x180e, 0x200b, 0x200c, 0x200d, 0x2060, 0x2061, 0x2064, 0x206a, 0x206f, 0xfeff, 0xfff9, 0xfffb, 0xe0001, 0xe0041, 0xe007f, 0x2028, 0x2029];
    for (const n of invisible) {
      const hex = n.toString(16).toUpperCase();
      expect(safeText(cp(n))).toBe(n <= 0xff ? `\\x${hex.toLowerCase()}` : `\\u{${hex.padStart(4, '0')}}`);
    }
    expect(safeLines('a\u2028b')).toBe('a\\u{2028}b');
  });

  it('escapes an unpaired surrogate, never a pair', () => {
    expect(safeText('a\ud800b\udc00')).toBe('a\\u{D800}b\\u{DC00}');
    expect(safeText('\ud83d\ude42')).toBe('🙂');
  });

  it('is idempotent: its output holds nothing left to escape', () => {
    let all = '';
    for (let n = 0; n < 0x3000; n++) all += cp(n);
    all += '\u{E0001}\u{E0020}\ufeff\ud800';
    const once = safeText(all);
    expect(safeText(once)).toBe(once);
    expect(/[\x00-\x08\x0a-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]/.test(once)).toBe(false);
    const lines = safeLines(all);
    expect(safeLines(lines)).toBe(lines);
  });
});

describe('safeJson', () => {
  it('escapes what JSON.stringify leaves raw, and parses to exactly the same value', () => {
    const value = { msg: 'a\u202Eb\u200b\x7f\u0085\u2028\x1b[2K\r\n\t', tag: '\u{E0041}', ok: 'plain ü 🙂', nested: [{ 'k\u2066': 1 }] };
    const text = safeJson(JSON.stringify(value, null, 2));
    expect(JSON.parse(text)).toEqual(value);
    expect(text).toContain('\\u202e');
    expect(text).toContain('\\udb40\\udc41');
    expect(/[\x7f-\x9f\u202a-\u202e\u2066-\u2069\u200b\u2028]/.test(text)).toBe(false);
    // the layout of the JSON stays as it was
    expect(text.split('\n').length).toBe(JSON.stringify(value, null, 2).split('\n').length);
  });
});
