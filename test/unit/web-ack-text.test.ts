import { describe, expect, it } from '@jest/globals';
import { ackText } from '../../web/src/ack-text.ts';

describe('ackText', () => {
  it('counts the deliveries of a message sent by its sender', () => {
    expect(ackText(1234, undefined)).toBe('✓ delivered to 1,234');
  });

  it('does not say a message handed to shard jobs reached no one', () => {
    expect(ackText(0, 8)).toBe('✓ stored, on its way to everyone');
  });
});
