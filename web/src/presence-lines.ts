/** A member as a presence change names it. */
export interface NamedMember {
  readonly connectionId: string;
  readonly name: string;
  /** The member's verified user id, when the chat authenticates its users. */
  readonly userId?: string;
}

/** One membership change as the page applies it. */
export interface PageChange extends NamedMember {
  readonly event: 'join' | 'leave' | 'rename';
  readonly previousName?: string;
}

/** One notice line: "Ann, Bob and 12 others joined", or one rename. */
export type PresenceLine =
  | { readonly kind: 'joined' | 'left'; readonly named: readonly NamedMember[]; readonly others: number }
  | { readonly kind: 'renamed'; readonly member: NamedMember; readonly previousName: string }
  | { readonly kind: 'renamed-others'; readonly count: number };

/** A line names at most this many members; the rest are counted. */
export const NAMED_PER_LINE = 3;

/**
 * The notice lines of a window's changes: one line for the joins and one for the leaves, each naming the first
 * few and counting the others (also the changes the frame counted but did not list), and the first few renames
 * one line each. `unlisted` counts the changes of a big room the frame did not list.
 */
export function presenceLines(
  changes: readonly PageChange[],
  unlisted: { readonly joined: number; readonly left: number; readonly renamed: number } = {
    joined: 0,
    left: 0,
    renamed: 0,
  },
): PresenceLine[] {
  const lines: PresenceLine[] = [];
  for (const [event, kind, extra] of [
    ['join', 'joined', unlisted.joined],
    ['leave', 'left', unlisted.left],
  ] as const) {
    const members = changes.filter((change) => change.event === event);
    if (members.length + extra === 0) continue;
    const named = members.slice(0, NAMED_PER_LINE).map(namedMember);
    lines.push({ kind, named, others: members.length - named.length + extra });
  }
  const renames = changes.filter((change) => change.event === 'rename');
  for (const change of renames.slice(0, NAMED_PER_LINE)) {
    lines.push({ kind: 'renamed', member: namedMember(change), previousName: change.previousName ?? 'Someone' });
  }
  const otherRenames = Math.max(0, renames.length - NAMED_PER_LINE) + unlisted.renamed;
  if (otherRenames > 0) lines.push({ kind: 'renamed-others', count: otherRenames });
  return lines;
}

function namedMember({ connectionId, name, userId }: NamedMember): NamedMember {
  return userId === undefined ? { connectionId, name } : { connectionId, name, userId };
}
