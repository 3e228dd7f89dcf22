import type { Connection, ConnectionChange } from './connection.ts';
import type { PresenceChange, PresenceRecord } from './presence.ts';

/**
 * The presence records each membership change causes, written with the connection change itself. A change is
 * about the connection as it is after it (its name and revision), so of two changes about one member the one
 * with the higher `rev` is current.
 */
export function changeOf(event: PresenceChange['event'], connection: Connection, at: Date): PresenceChange {
  return {
    event,
    connectionId: connection.id,
    name: connection.name,
    ...(connection.userId !== undefined ? { userId: connection.userId } : {}),
    rev: connection.revision,
    at: at.toISOString(),
  };
}

/** A new connection joins its room at once: it hears the room from its handshake on. */
export function joined(connection: Connection, at: Date): PresenceRecord[] {
  return [{ room: connection.room, change: changeOf('join', connection, at), memberDelta: 1 }];
}

/**
 * A connection leaves its room for good (removed, or retired as gone): the leave outranks any frame about it still
 * in flight. One stored before joins were announced at $connect, and never announced, leaves unheard.
 */
export function left(connection: Connection, at: Date): PresenceRecord[] {
  if (!connection.announced) return [];
  return [{ room: connection.room, change: changeOf('leave', connection, at), memberDelta: -1 }];
}

/**
 * What a change of room, name or announcement causes: a move is a leave from the old room (if it was announced
 * there) and a join of the new one; the first announcement of a connection stored unannounced is a join; a new
 * name is a rename in its room. A change that changes none of these records nothing.
 */
export function changed({ before, after }: ConnectionChange, at: Date): PresenceRecord[] {
  const records: PresenceRecord[] = [];
  const moved = before.room !== after.room;
  if (moved && before.announced)
    records.push({ room: before.room, change: changeOf('leave', after, at), memberDelta: -1 });
  if (after.announced && (moved || !before.announced))
    records.push({ room: after.room, change: changeOf('join', after, at), memberDelta: 1 });
  else if (after.announced && before.name !== after.name)
    records.push({
      room: after.room,
      change: { ...changeOf('rename', after, at), previousName: before.name },
      memberDelta: 0,
    });
  return records;
}
