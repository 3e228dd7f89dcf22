import type { PresenceChange } from '../../../src/domain/presence.ts';
import type { ServerFrame } from '../../../src/domain/frames.ts';
import { Revisions } from '../../../web/src/revisions.ts';
import { RoomProgress } from '../../../web/src/room-progress.ts';

/**
 * What one socket of the chat page makes of the frames it receives: its room, roster, member count and
 * messages, applied as web/src/main.ts applies them (onWelcome, onPresence, onPresenceBatch, onRoster,
 * onMessage), with the page's own Revisions and RoomProgress.
 */
export class PageModel {
  ownId: string | undefined;
  room: string | undefined;
  readonly members = new Map<string, string>();
  memberCount: number | undefined;
  rosterNext: string | undefined;
  progress = new RoomProgress();
  /** The page asks for the roster after the welcome of a new connection or room (main.ts's requestRoster). */
  wantsRoster = false;
  /** Message ids shown, and how many times each arrived. */
  readonly arrivals = new Map<string, number>();
  /** The message id each acknowledged clientMsgId got. */
  readonly acks = new Map<string, string>();
  #rosterAppending = false;
  #welcomeRevisions = new Revisions();
  #memberRevisions = new Revisions();
  /** Members seen leaving, with the revision of their leave (as the page keeps them). */
  readonly #departed = new Map<string, number>();

  receive(frame: ServerFrame): void {
    switch (frame.type) {
      case 'welcome': {
        if (!this.#welcomeRevisions.accept(frame.connectionId, frame.rev)) return;
        this.#memberRevisions.accept(frame.connectionId, frame.rev);
        const newConnectionOrRoom = frame.connectionId !== this.ownId || frame.room !== this.room;
        this.ownId = frame.connectionId;
        if (frame.room !== this.room) this.#enterRoom(frame.room);
        this.progress.startReplay(frame.replay);
        this.memberCount = frame.members;
        if (newConnectionOrRoom) this.requestRoster(undefined);
        return;
      }
      case 'message':
        if (frame.room !== this.room) return;
        this.progress.saw(frame.seq);
        this.arrivals.set(frame.id, (this.arrivals.get(frame.id) ?? 0) + 1);
        return;
      case 'presence':
        if (frame.room !== this.room) return;
        this.memberCount = frame.members;
        this.#apply(frame);
        return;
      case 'presence_batch':
        if (frame.room !== this.room) return;
        for (const change of frame.changes) this.#apply(change);
        this.memberCount = frame.members;
        return;
      case 'roster':
        if (frame.room !== this.room) return;
        if (!this.#rosterAppending) this.members.clear();
        for (const { connectionId, name, rev } of frame.members) {
          const leftAt = this.#departed.get(connectionId);
          if (leftAt !== undefined && !(rev > leftAt)) continue;
          if (!this.#memberRevisions.accept(connectionId, rev)) continue;
          this.members.set(connectionId, name);
        }
        this.memberCount = frame.count;
        this.rosterNext = frame.next;
        return;
      case 'ack':
        this.acks.set(frame.clientMsgId, frame.id);
        return;
      default:
        return;
    }
  }

  /** The page's requestRoster: the next roster frame replaces the list, or (with a cursor) adds to it. */
  requestRoster(cursor: string | undefined): void {
    this.#rosterAppending = cursor !== undefined;
    this.wantsRoster = true;
  }

  #enterRoom(room: string): void {
    this.room = room;
    this.members.clear();
    this.#departed.clear();
    this.memberCount = undefined;
    this.rosterNext = undefined;
    this.progress = new RoomProgress();
    this.arrivals.clear();
  }

  #apply(change: PresenceChange): void {
    if (!this.#memberRevisions.acceptNewer(change.connectionId, change.rev)) return;
    if (change.event === 'leave') {
      this.members.delete(change.connectionId);
      this.#departed.set(change.connectionId, change.rev);
      return;
    }
    this.members.set(change.connectionId, change.name);
    if (change.event === 'join') this.#departed.delete(change.connectionId);
  }
}
