/** What each error code means, in words a person can act on. */
const SENTENCES: Record<string, string> = {
  binary_not_supported: 'The server accepts only text messages.',
  frame_too_large: 'That message is far too long to send.',
  invalid_json: 'The message looked like JSON but could not be read.',
  invalid_frame: 'The message was not in a form the server understands.',
  unknown_action: 'The server does not know that action.',
  empty_message: 'Empty messages are not sent.',
  message_too_large: 'That message is too long.',
  invalid_room: 'That is not a valid room name.',
  invalid_name: 'That is not a valid name.',
  name_locked: 'Your name comes from your sign-in and cannot be changed here.',
  rate_limited: 'You are sending too fast; wait a few seconds.',
  conflict: 'Too much was changing at once on the server; try again.',
  too_many_connections: 'Too many chats are open for you; close one and try again.',
  unknown_connection: 'The server lost track of this connection; reload the page.',
  internal_error: 'Something went wrong on the server. Please try again.',
};

/** The sentence to show for an error frame: its meaning, then the server's detail when there is one. */
export function describeErrorFrame(code: unknown, message: unknown): string {
  const sentence = (typeof code === 'string' && SENTENCES[code]) || 'The server refused the message.';
  const detail = typeof message === 'string' && message.length > 0 && code !== 'internal_error' ? ` (${message})` : '';
  return `Not sent: ${sentence}${detail}`;
}
