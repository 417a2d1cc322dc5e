// The ring rule of a staged rollout (docs/fleet.md "Staged rollout"): which commit of its
// branch a host with `fleet.after = R` deploys, decided from the status documents of the
// fleet and git's answers on which commit descends from which. The rule, exactly:
//
//   - every status branch must be readable: one that is not could be a host of ring R
//     (its ring cannot be known), so the host holds;
//   - the hosts of ring R are those whose document says `ring = R`; with none, it holds;
//   - each of them must have published a healthy commit (`lastHealthy`), and each of those
//     must be on the branch (the tip or an ancestor of it); otherwise it holds;
//   - the target is the one of those commits that every other one descends from (the
//     oldest of a line): the newest commit every host of R has run healthy or gone past
//     healthy. Commits of diverging histories have none: it holds;
//   - a host never moves back: when it runs a commit that descends from the target already,
//     it holds there.
//
// Holding keeps the host at the commit of its live generation. A ring's hosts are whoever
// says so: the rule catches a bad commit before most of the fleet runs it, it is no
// security boundary (anyone who can push to the repository can write a status branch).
import type { PublishedStatus } from './fleet-status';
import { byText } from './text-order';

export interface RolloutInput {
  /** The ring this host waits for (`fleet.after`). */
  ring: string;
  branch: string;
  tip: string;
  /** The commit of this host's live generation, if it has one. */
  live?: string;
  statuses: readonly PublishedStatus[];
}

/** Pairs [a, b] whose answer "is a an ancestor of b, or b itself" the decision needs. */
export function ancestryQuestions(input: RolloutInput): [string, string][] {
  const healthy = [...new Set(ringMembers(input).flatMap((m) => (m.lastHealthy ? [m.lastHealthy] : [])))];
  const pairs: [string, string][] = [];
  for (const a of healthy) {
    pairs.push([a, input.tip]);
    for (const b of healthy) if (a !== b) pairs.push([a, b]);
    if (input.live && input.live !== a) pairs.push([a, input.live]);
  }
  return pairs;
}

/** Answers to `ancestryQuestions`, keyed by `ancestryKey(a, b)`: true when a is b or an ancestor of it. */
export type AncestryAnswers = ReadonlyMap<string, boolean>;

export function ancestryKey(a: string, b: string): string {
  return `${a} ${b}`;
}

export type RolloutDecision =
  | { take: true; commit: string; ring: string; hosts: string[]; message: string }
  | { take: false; ring: string; message: string };

interface Member {
  host: string;
  lastHealthy: string | null;
}

function ringMembers(input: RolloutInput): Member[] {
  return input.statuses
    .flatMap((s) => ('document' in s && s.document.ring === input.ring ? [{ host: s.host, lastHealthy: s.document.lastHealthy }] : []))
    .sort((a, b) => byText(a.host, b.host));
}

const short = (c: string): string => c.slice(0, 12);

export function decideRollout(input: RolloutInput, answers: AncestryAnswers): RolloutDecision {
  const { ring, branch, tip } = input;
  const holds = (why: string): RolloutDecision => ({ take: false, ring, message: `holding: ${why}` });
  const isAncestor = (a: string, b: string): boolean => a === b || answers.get(ancestryKey(a, b)) === true;

  const unreadable = input.statuses.filter((s): s is { host: string; problem: string } => 'problem' in s);
  if (unreadable.length > 0) {
    const named = unreadable.map((s) => `moor-status/${s.host}: ${s.problem}`).join('; ');
    return holds(`the status of ${unreadable.length === 1 ? 'a host' : `${unreadable.length} hosts`} cannot be read, and it may be a host of ring ${ring} (${named})`);
  }
  const members = ringMembers(input);
  if (members.length === 0) return holds(`no host of ring ${ring} has published its status (a moor-status/ branch whose document says ring = "${ring}")`);
  const waiting = members.filter((m) => m.lastHealthy === null).map((m) => m.host);
  if (waiting.length > 0) return holds(`${waiting.join(', ')} of ring ${ring} ${waiting.length === 1 ? 'has' : 'have'} published no healthy commit yet`);
  const offBranch = members.filter((m) => !isAncestor(m.lastHealthy!, tip));
  if (offBranch.length > 0) {
    const named = offBranch.map((m) => `${m.host} at ${short(m.lastHealthy!)}`).join(', ');
    return holds(`the healthy commit of ${named} is not on branch ${branch} (tip ${short(tip)}): a rewritten history, or another branch`);
  }
  const commits = [...new Set(members.map((m) => m.lastHealthy!))];
  const target = commits.find((c) => commits.every((other) => isAncestor(c, other)));
  if (target === undefined) {
    const named = members.map((m) => `${m.host} at ${short(m.lastHealthy!)}`).join(', ');
    return holds(`the hosts of ring ${ring} are healthy on commits of diverging histories (${named})`);
  }
  if (input.live && input.live !== target && isAncestor(target, input.live)) {
    return holds(`this host runs ${short(input.live)}, which already descends from ${short(target)}, the newest commit healthy on ring ${ring}`);
  }
  const hosts = members.map((m) => m.host);
  return { take: true, commit: target, ring, hosts, message: `taking ${short(target)}: healthy on ring ${ring} (${hosts.join(', ')})` };
}
