import type { ServerFrame } from '../../src/domain/frames.ts';

/** A short line per frame, so that a test can assert what one connection received, in order. */
export function summary(frame: ServerFrame): string {
  switch (frame.type) {
    case 'welcome':
      return `welcome ${frame.room} replay=${frame.replay}`;
    case 'message':
      return `message ${frame.text}`;
    case 'presence':
      return `presence ${frame.event} ${frame.room} ${frame.connectionId}`;
    case 'presence_batch':
      return `presence_batch ${frame.room} ${frame.changes.map((c) => `${c.event} ${c.connectionId}`).join(', ')}${frame.complete ? '' : ` (+${frame.joined + frame.left + frame.renamed - frame.changes.length})`}`;
    case 'error':
      return `error ${frame.code}`;
    default:
      return frame.type;
  }
}
