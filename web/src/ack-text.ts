/**
 * What the page says of an acknowledged message. An ack counts the deliveries its sender's invocation made;
 * in a room above the server's shard size that is none yet (`shards` jobs took the fan-out over), and the
 * page must not say the message reached no one.
 */
export function ackText(delivered: number, shards: number | undefined): string {
  if (shards !== undefined && shards > 0) return '✓ stored, on its way to everyone';
  return `✓ delivered to ${delivered.toLocaleString('en-US')}`;
}
