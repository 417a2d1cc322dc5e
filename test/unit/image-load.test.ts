import { describe, expect, it } from 'vitest';
import { loadedImages } from '../../daemon/host/image-load';

describe('loadedImages', () => {
  it("reads podman load's lines, one image or several per line", () => {
    expect(loadedImages('Getting image source signatures\nCopying blob 1234 done\nLoaded image: localhost/app:1\n')).toEqual(['localhost/app:1']);
    expect(loadedImages('Loaded image(s): localhost/a:1,localhost/b:2\n')).toEqual(['localhost/a:1', 'localhost/b:2']);
    expect(loadedImages('Loaded image: sha256:abc\nLoaded image: localhost/c:3\n')).toEqual(['sha256:abc', 'localhost/c:3']);
    expect(loadedImages('')).toEqual([]);
  });
});
