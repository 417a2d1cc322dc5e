import { describe, expect, it } from 'vitest';
import { knownSections, sectionProblems } from '../../daemon/core/unit-sections';
import { parseUnit } from '../../daemon/core/unit-file';

const check = (text: string, name: string) => sectionProblems(parseUnit(text).unit, name, `apps/${name}`);

describe('sections a unit file may hold', () => {
  it("refuses quadsync's [Secrets] with its line, saying moor does not read it and how to give secrets today", () => {
    const ps = check('[Container]\nImage=x\n\n[Secrets]\nEnvironment=DB_PASSWORD=hunter2\nFile=/run/key:aGVsbG8=\n', 'web.container');
    expect(ps).toHaveLength(1);
    expect(ps[0]).toMatchObject({ path: 'apps/web.container', line: 4, code: 'secrets-section' });
    expect(ps[0]!.workload).toBeUndefined();
    expect(ps[0]!.message).toMatch(/moor does not read quadsync's \[Secrets\] section;/);
    expect(ps[0]!.hint).toMatch(/age-encrypted file <workload>-<name>\.age/);
    expect(ps[0]!.hint).toMatch(/Secret=<workload>-<name>,type=env,target=<VARIABLE>/);
    // The secret's value is never quoted back.
    expect(JSON.stringify(ps)).not.toContain('hunter2');
  });

  it('refuses a section the type does not know, in any unit type, naming the sections it has', () => {
    expect(check('[Container]\nImage=x\n[Volume]\nDriver=local\n', 'web.container')).toEqual([
      expect.objectContaining({ line: 3, code: 'unknown-section', hint: expect.stringContaining('[X-Volume]') }),
    ]);
    const [timer] = check('[Timer]\nOnCalendar=daily\n[Service]\nExecStart=/bin/true\n', 'web-nightly.timer');
    expect(timer).toMatchObject({ line: 3, code: 'unknown-section' });
    expect(timer!.message).toBe('[Service] is not a section a .timer file has ([Unit], [Timer], [Install]); systemd would skip it and what it holds would do nothing');
    expect(check('[Unit]\n[Install]\n[Target]\n', 'web.target').map((p) => p.line)).toEqual([3]);
  });

  it('says when only the case is wrong', () => {
    const [p] = check('[container]\nImage=x\n', 'web.container');
    expect(p?.hint).toBe('section names are case-sensitive: write [Container]');
  });

  it('accepts the Quadlet sections, the systemd sections Quadlet passes through, and X- sections', () => {
    expect(
      check('[Unit]\nDescription=a\n[Container]\nImage=x\n[Service]\nRestart=always\n[Install]\nWantedBy=default.target\n[Quadlet]\nDefaultDependencies=false\n[X-Notes]\nOwner=ops\n', 'web.container'),
    ).toEqual([]);
    for (const type of ['pod', 'volume', 'network', 'kube', 'image', 'build']) {
      expect(knownSections(type)).toEqual(expect.arrayContaining(['Unit', 'Service', 'Install', 'Quadlet']));
    }
    expect(check('[Unit]\n[Service]\nExecStart=/bin/true\n[Install]\n', 'web-job.service')).toEqual([]);
    expect(check('[Unit]\n[Socket]\nListenStream=1\n[Install]\n', 'web.socket')).toEqual([]);
    expect(check('[Path]\nPathChanged=/x\n', 'web.path')).toEqual([]);
  });

  it('has nothing to say about a data file', () => {
    expect(check('[Secrets]\nA=1\n', 'web.conf')).toEqual([]);
  });
});
