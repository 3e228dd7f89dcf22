import { describe, expect, it } from '@jest/globals';
import {
  type ErrorCode,
  type FrameLimits,
  InvalidFrameError,
  parseInboundFrame,
} from '../../src/handlers/inbound-frame.ts';

const limits: FrameLimits = { maxFrameBytes: 100, maxTextBytes: 20 };

/** The refusal that parsing the frame throws; fails the test when the frame is accepted. */
function refusalOf(body: string | undefined, isBase64Encoded = false): InvalidFrameError {
  try {
    parseInboundFrame(body, isBase64Encoded, limits);
  } catch (error) {
    if (error instanceof InvalidFrameError) return error;
    throw error;
  }
  throw new Error(`expected ${JSON.stringify(body)} to be refused`);
}

const refusals: ReadonlyArray<{ case: string; body: string | undefined; base64?: boolean; code: ErrorCode }> = [
  { case: 'a binary frame', body: 'aGVsbG8=', base64: true, code: 'binary_not_supported' },
  { case: 'a frame over maxFrameBytes', body: 'x'.repeat(101), code: 'frame_too_large' },
  { case: 'a frame that starts with { but is not JSON', body: '{bad', code: 'invalid_json' },
  { case: 'a text that is not a string', body: '{"text":5}', code: 'invalid_frame' },
  { case: 'a JSON frame without text', body: '{"action":"sendmessage"}', code: 'invalid_frame' },
  { case: 'an action that is not a string', body: '{"action":5,"text":"hi"}', code: 'invalid_frame' },
  { case: 'an unknown action', body: '{"action":"shout","text":"hi"}', code: 'unknown_action' },
  { case: 'a blank plain text', body: '   ', code: 'empty_message' },
  { case: 'an empty JSON text', body: '{"text":""}', code: 'empty_message' },
  { case: 'a text over maxTextBytes', body: '{"text":"😀😀😀😀😀😀"}', code: 'message_too_large' },
];

describe('parseInboundFrame', () => {
  describe('plain text', () => {
    it('takes a frame that does not start with { as the text of a message with no action', () => {
      expect(parseInboundFrame('hello there', false, limits)).toStrictEqual({ action: undefined, text: 'hello there' });
    });

    it.each(['42', 'hello {', '[1,2]', 'null', '"quoted"'])('takes %p as plain text', (body) => {
      expect(parseInboundFrame(body, false, limits)).toStrictEqual({ action: undefined, text: body });
    });

    it('accepts a text of exactly maxTextBytes', () => {
      const text = '😀'.repeat(5);

      expect(parseInboundFrame(text, false, limits)).toStrictEqual({ action: undefined, text });
    });

    it('treats a missing body as an empty message', () => {
      expect(refusalOf(undefined).code).toBe('empty_message');
    });
  });

  describe('JSON frames', () => {
    it('reads the text of a JSON object without action', () => {
      expect(parseInboundFrame('{"text":"hi"}', false, limits)).toStrictEqual({ action: undefined, text: 'hi' });
    });

    it('reads the data of the AWS sample client as the text of a sendmessage', () => {
      expect(parseInboundFrame('{"action":"sendmessage","data":"hi"}', false, limits)).toStrictEqual({
        action: 'sendmessage',
        text: 'hi',
      });
    });

    it('reads an echo action', () => {
      expect(parseInboundFrame('{"action":"echo","text":"hi"}', false, limits)).toStrictEqual({
        action: 'echo',
        text: 'hi',
      });
    });

    it('prefers text over data when a frame has both', () => {
      expect(parseInboundFrame('{"text":"from text","data":"from data"}', false, limits)).toStrictEqual({
        action: undefined,
        text: 'from text',
      });
    });

    it('reads a ping action, which needs no text', () => {
      expect(parseInboundFrame('{"action":"ping"}', false, limits)).toStrictEqual({ action: 'ping' });
    });

    it('parses a JSON object preceded by whitespace', () => {
      expect(parseInboundFrame('  {"text":"hi"}', false, limits)).toStrictEqual({ action: undefined, text: 'hi' });
    });
  });

  describe('refusals', () => {
    it.each(refusals)('refuses $case with $code', ({ body, base64, code }) => {
      expect(refusalOf(body, base64).code).toBe(code);
    });

    it.each(refusals)('explains $case in one line with no stack trace', ({ body, base64 }) => {
      const { message } = refusalOf(body, base64);

      expect(message).not.toMatch(/\n|\bat .+:\d+|Error:/);
      expect(message.length).toBeGreaterThan(0);
    });

    it('counts frame size in UTF-8 bytes, not UTF-16 units', () => {
      const body = 'é'.repeat(51);

      expect({ units: body.length, code: refusalOf(body).code }).toEqual({ units: 51, code: 'frame_too_large' });
    });

    it('counts text size in UTF-8 bytes, not UTF-16 units', () => {
      const text = '😀'.repeat(6);

      expect({ units: text.length, code: refusalOf(text).code }).toEqual({ units: 12, code: 'message_too_large' });
    });

    it('refuses a binary frame whatever it contains', () => {
      expect(refusalOf('{"text":"hi"}', true).code).toBe('binary_not_supported');
    });

    it('names the offending field of a malformed frame', () => {
      expect(refusalOf('{"text":5}').message).toMatch(/^text: /);
    });

    it('names the unknown action it refused', () => {
      expect(refusalOf('{"action":"shout","text":"hi"}').message).toContain('"shout"');
    });
  });
});
