// A Kubernetes YAML read for the policy as podman reads it, or refused. Podman splits the
// stream with Go's yaml.v3 (aliases and `<<` merge keys resolved, each document
// re-marshalled), converts each document to JSON with yaml.v2 (YAML 1.1: `yes`, `on`,
// `010` are a boolean and an octal there) and decodes that with encoding/json, which
// matches field names without regard to case. moor reads every scalar as text (the
// failsafe schema) and decides its type itself, accepting only spellings all of these
// read the same way: a field name exactly as Kubernetes spells it, `true`/`false`,
// a plain decimal, and a plain word that no YAML version reads as anything but a
// string (anything else quoted). Aliases, merge keys, tags, duplicate keys and parse
// errors are refused: what moor cannot be sure podman reads the same is unjudgeable.
import { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, parseAllDocuments, visit, type Node, type Pair, type YAMLMap } from 'yaml';
import type { Fact } from './model';

/** A file a unit names, as deployed: its repo path (for messages) and content. */
export interface DeployedFile {
  path: string;
  content: string;
}

export type YamlNode = Node | null | undefined;

/** Collects the facts of one YAML file, each at its line, with the file as source. */
export class YamlFacts {
  readonly facts: Fact[] = [];
  readonly lines = new LineCounter();
  constructor(readonly file: DeployedFile) {}

  lineOf(node: YamlNode | Pair, fallback = 1): number {
    const range = isPair(node) ? (node.key as Node | null)?.range : node?.range;
    return range ? this.lines.linePos(range[0]).line : fallback;
  }

  fact(at: YamlNode | Pair, kind: Fact['kind'], value: string, as: string): void {
    this.facts.push({ kind, value, as, line: this.lineOf(at), source: this.file.path });
  }

  refuse(at: YamlNode | Pair, why: string, as: string): void {
    this.fact(at, 'unjudgeable', why, as);
  }

  /** Every document's top-level node, after refusing what podman could read otherwise. */
  documents(): YAMLMap[] {
    const docs = parseAllDocuments(this.file.content, {
      lineCounter: this.lines,
      schema: 'failsafe',
      merge: false,
      uniqueKeys: true,
      strict: true,
      prettyErrors: false,
    });
    // The documents are walked as parsed, never converted to values: an alias is refused
    // below, not expanded, so no alias bomb can grow.
    if (!Array.isArray(docs)) return [];
    const out: YAMLMap[] = [];
    for (const doc of docs) {
      const problems = [...doc.errors, ...doc.warnings];
      if (problems.length > 0) {
        for (const e of problems) {
          const line = this.lines.linePos(e.pos[0]).line;
          this.facts.push({ kind: 'unjudgeable', value: `not YAML podman reads the same: ${e.message.split('\n')[0]}`, as: e.code, line, source: this.file.path });
        }
        continue;
      }
      let refused = false;
      visit(doc, {
        Alias: (_k, node) => {
          this.refuse(node, 'an alias (*name): write the value out', `*${node.source}`);
          refused = true;
        },
        Node: (_k, node) => {
          if (node.tag !== undefined) {
            this.refuse(node, `a tag (${node.tag}): write the value without one`, node.tag);
            refused = true;
          }
        },
        Pair: (_k, pair) => {
          if (isScalar(pair.key) && pair.key.type === 'PLAIN' && pair.key.value === '<<') {
            this.refuse(pair, 'a merge key (<<): write the fields out', '<<');
            refused = true;
          }
        },
      });
      if (refused) continue;
      const c = doc.contents;
      if (c === null || isNull(c)) continue; // podman skips an empty document
      if (!isMap(c)) {
        this.refuse(c, 'a document that is not a mapping', isScalar(c) ? String(c.value) : 'a sequence');
        continue;
      }
      out.push(c as YAMLMap);
    }
    return out;
  }

  /**
   * Walks a mapping's fields: each must be one the handlers know, spelled exactly so;
   * an unknown one is refused (podman's JSON decoding would match "HostNetwork" to
   * hostNetwork, and a field moor does not know may change what runs).
   */
  fields(map: YamlNode, where: string, handlers: Record<string, ((value: YamlNode, pair: Pair) => void) | true>): void {
    if (map === null || map === undefined || isNull(map)) return;
    if (!isMap(map)) {
      this.refuse(map, `${where} is not a mapping`, where);
      return;
    }
    for (const pair of (map as YAMLMap).items) {
      const key = this.string(pair.key as YamlNode, `a field name in ${where}`);
      if (key === undefined) continue;
      const handler = Object.hasOwn(handlers, key) ? handlers[key] : undefined;
      if (handler === undefined) {
        this.refuse(pair, `${where}: the field "${key}" is not one moor knows what podman does with`, key);
        continue;
      }
      if (handler !== true) handler(pair.value as YamlNode, pair);
    }
  }

  /** The value of one field, spelled exactly so (undefined when absent or not a mapping). */
  field(map: YamlNode, name: string): YamlNode | undefined {
    if (!isMap(map)) return undefined;
    const pair = (map as YAMLMap).items.find((p) => isScalar(p.key) && p.key.value === name);
    return pair ? ((pair.value as YamlNode) ?? null) : undefined;
  }

  /** The items of a sequence (none when null or absent). */
  items(node: YamlNode, where: string): YamlNode[] {
    if (node === null || node === undefined || isNull(node)) return [];
    if (!isSeq(node)) {
      this.refuse(node, `${where} is not a sequence`, where);
      return [];
    }
    return node.items as YamlNode[];
  }

  /** A mapping's entries with string keys, for free-form maps (annotations). */
  entries(node: YamlNode, where: string): { key: string; value: YamlNode; pair: Pair }[] {
    if (node === null || node === undefined || isNull(node)) return [];
    if (!isMap(node)) {
      this.refuse(node, `${where} is not a mapping`, where);
      return [];
    }
    const out: { key: string; value: YamlNode; pair: Pair }[] = [];
    for (const pair of (node as YAMLMap).items) {
      const key = this.string(pair.key as YamlNode, `a key in ${where}`);
      if (key !== undefined) out.push({ key, value: pair.value as YamlNode, pair });
    }
    return out;
  }

  /** A string podman reads as this very string; undefined when null or refused. */
  string(node: YamlNode, where: string): string | undefined {
    if (node === null || node === undefined || isNull(node)) return undefined;
    if (!isScalar(node)) {
      this.refuse(node, `${where} is not a string`, where);
      return undefined;
    }
    const text = String(node.value);
    if (node.type === 'PLAIN' && !plainString(text)) {
      this.refuse(node, `${where} "${text}" could be read as a number, a boolean or null: quote it`, text);
      return undefined;
    }
    return text;
  }

  /** `true` or `false` (not `yes`, `on`, `1`: YAML 1.1 and 1.2 differ on those). */
  bool(node: YamlNode, where: string): boolean | undefined {
    if (node === null || node === undefined || isNull(node)) return undefined;
    if (isScalar(node) && node.type === 'PLAIN') {
      if (/^(true|True|TRUE)$/.test(String(node.value))) return true;
      if (/^(false|False|FALSE)$/.test(String(node.value))) return false;
    }
    this.refuse(node, `${where} must be true or false`, isScalar(node) ? String(node.value) : where);
    return undefined;
  }

  /** A plain decimal integer (no sign, no leading zero: `010` is octal in YAML 1.1). */
  int(node: YamlNode, where: string): number | undefined {
    if (node === null || node === undefined || isNull(node)) return undefined;
    if (isScalar(node) && node.type === 'PLAIN' && /^(0|[1-9][0-9]{0,9})$/.test(String(node.value))) return Number(node.value);
    this.refuse(node, `${where} must be a plain decimal number`, isScalar(node) ? String(node.value) : where);
    return undefined;
  }
}

function isNull(node: Node): boolean {
  return isScalar(node) && node.type === 'PLAIN' && /^(|~|null|Null|NULL)$/.test(String(node.value));
}

/**
 * Whether a plain scalar is a string in every YAML version and in Go's yaml.v2/v3:
 * not starting like a number (`.5`, `.inf` too) or `~`, and not one of YAML 1.1's booleans
 * or nulls.
 */
function plainString(text: string): boolean {
  return text !== '' && !/^[-+0-9~]/.test(text) && !/^\.(\d|inf$|nan$)/i.test(text) && !/^(y|n|yes|no|on|off|true|false|null)$/i.test(text);
}
