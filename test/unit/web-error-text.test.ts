import { describe, expect, it } from '@jest/globals';
import { describeErrorFrame } from '../../web/src/error-text.ts';

describe('describeErrorFrame', () => {
  it('tells the person to try again when the server had too many changes at once', () => {
    expect(describeErrorFrame('conflict', '')).toBe(
      'Not sent: Too much was changing at once on the server; try again.',
    );
  });

  it('says what a code means and adds the server detail', () => {
    expect(describeErrorFrame('invalid_room', 'room: too long')).toBe(
      'Not sent: That is not a valid room name. (room: too long)',
    );
  });

  it('hides the detail of an internal error', () => {
    expect(describeErrorFrame('internal_error', 'DynamoDB said no')).toBe(
      'Not sent: Something went wrong on the server. Please try again.',
    );
  });
});
