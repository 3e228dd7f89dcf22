import { describe, expect, it } from '@jest/globals';
import type { ErrorCode } from '../../src/domain/frames.ts';
import { type FrameLimits, InvalidFrameError, parseInboundFrame } from '../../src/handlers/frames/inbound-frame.ts';

const limits: FrameLimits = { maxFrameBytes: 100, maxTextBytes: 20 };
/** Room enough for long names and ids, with the same text limit. */
const roomy: FrameLimits = { maxFrameBytes: 1000, maxTextBytes: 20 };

/** The refusal that parsing the frame throws; fails the test when the frame is accepted. */
function refusalOf(body: string | undefined, isBase64Encoded = false, frameLimits = limits): InvalidFrameError {
  try {
    parseInboundFrame(body, isBase64Encoded, frameLimits);
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
  { case: 'a join to an invalid room', body: '{"action":"join","room":"no spaces!"}', code: 'invalid_room' },
  { case: 'a setname with an invalid name', body: '{"action":"setname","name":""}', code: 'invalid_name' },
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

  describe('message texts', () => {
    it.each([
      ['a plain text with U+009B CSI', 'red \u009b31m alert', 'U+009B'],
      ['a plain text with U+0085 NEL', 'one\u0085two', 'U+0085'],
      ['a JSON text with U+0080', JSON.stringify({ text: 'a\u0080b' }), 'U+0080'],
      ['a sendmessage data with U+009F', JSON.stringify({ action: 'sendmessage', data: 'a\u009fb' }), 'U+009F'],
      ['an echo text with U+009B', JSON.stringify({ action: 'echo', text: '\u009b2J' }), 'U+009B'],
      ['a plain text with ESC [', 'red \u001b[31m alert', 'U+001B'],
      ['a JSON text with U+0000', JSON.stringify({ text: 'a\u0000b' }), 'U+0000'],
      ['a plain text with DEL', 'a\u007fb', 'U+007F'],
      ['a plain text with a form feed', 'a\u000cb', 'U+000C'],
    ])('refuses %s with invalid_frame, naming the control', (_label, body, codePoint) => {
      const refusal = refusalOf(body, false, roomy);

      expect([refusal.code, refusal.message]).toEqual([
        'invalid_frame',
        `message text cannot contain control characters other than tab and line breaks (U+0000 to U+001F, U+007F to U+009F); it holds ${codePoint}`,
      ]);
    });

    it("keeps a refused text's clientMsgId, so that the page can mark it not sent", () => {
      const body = JSON.stringify({ action: 'sendmessage', text: '\u009b', clientMsgId: 'c-1' });

      expect(refusalOf(body, false, roomy).clientMsgId).toBe('c-1');
    });

    it.each([
      ['a tab, a line feed and a carriage return', 'a\tb\nc\r\n'],
      ['U+00A0 NO-BREAK SPACE and U+00E9, just past the C1 block', 'caf\u00e9\u00a0ok'],
    ])('accepts %s', (_label, text) => {
      expect(parseInboundFrame(text, false, roomy)).toStrictEqual({ action: undefined, text });
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

    it('reads the clientMsgId of a sendmessage', () => {
      expect(
        parseInboundFrame('{"action":"sendmessage","text":"hi","clientMsgId":"c-1"}', false, limits),
      ).toStrictEqual({
        action: 'sendmessage',
        text: 'hi',
        clientMsgId: 'c-1',
      });
    });

    it('reads the clientId of the page that sent a sendmessage', () => {
      expect(
        parseInboundFrame(
          '{"action":"sendmessage","text":"hi","clientMsgId":"c-1","clientId":"page-1"}',
          false,
          limits,
        ),
      ).toStrictEqual({ action: 'sendmessage', text: 'hi', clientMsgId: 'c-1', clientId: 'page-1' });
    });

    it.each(['""', '"has space"', `"${'x'.repeat(65)}"`, '7'])(
      'refuses clientId %s as an invalid frame',
      (clientId) => {
        expect(() =>
          parseInboundFrame(`{"action":"sendmessage","text":"hi","clientId":${clientId}}`, false, roomy),
        ).toThrow(expect.objectContaining({ code: 'invalid_frame' }));
      },
    );

    it('reads the clientMsgId of a frame without action', () => {
      expect(parseInboundFrame('{"text":"hi","clientMsgId":"c-1"}', false, limits)).toStrictEqual({
        action: undefined,
        text: 'hi',
        clientMsgId: 'c-1',
      });
    });
  });

  describe('room, name and presence actions', () => {
    it('reads a hello action', () => {
      expect(parseInboundFrame('{"action":"hello"}', false, limits)).toStrictEqual({ action: 'hello' });
    });

    it('reads the seq a hello has every message up to, which wins over an id', () => {
      expect(parseInboundFrame('{"action":"hello","afterSeq":41,"after":"msg-9"}', false, limits)).toStrictEqual({
        action: 'hello',
        from: { seq: 41 },
      });
    });

    it('reads the seq a join has every message up to', () => {
      expect(parseInboundFrame('{"action":"join","room":"kitchen","afterSeq":0}', false, limits)).toStrictEqual({
        action: 'join',
        room: 'kitchen',
        from: { seq: 0 },
      });
    });

    it.each(['-1', '1.5', '"7"', '1e300'])('refuses afterSeq %s as an invalid frame', (afterSeq) => {
      expect(() => parseInboundFrame(`{"action":"hello","afterSeq":${afterSeq}}`, false, limits)).toThrow(
        expect.objectContaining({ code: 'invalid_frame' }),
      );
    });

    it('reads the id a hello has seen messages up to', () => {
      expect(parseInboundFrame('{"action":"hello","after":"msg-9"}', false, limits)).toStrictEqual({
        action: 'hello',
        from: { id: 'msg-9' },
      });
    });

    it('reads a join action with its room, lowercased', () => {
      expect(parseInboundFrame('{"action":"join","room":"Kitchen"}', false, limits)).toStrictEqual({
        action: 'join',
        room: 'kitchen',
      });
    });

    it('reads the id a join has seen messages up to', () => {
      expect(parseInboundFrame('{"action":"join","room":"kitchen","after":"msg-9"}', false, limits)).toStrictEqual({
        action: 'join',
        room: 'kitchen',
        from: { id: 'msg-9' },
      });
    });

    it.each(['leave', 'who'])('reads a %s action, which needs nothing else', (action) => {
      expect(parseInboundFrame(`{"action":"${action}"}`, false, limits)).toStrictEqual({ action });
    });

    it('reads a setname action with its name, trimmed', () => {
      expect(parseInboundFrame('{"action":"setname","name":"  Ann Lee  "}', false, limits)).toStrictEqual({
        action: 'setname',
        name: 'Ann Lee',
      });
    });

    it.each([
      { case: 'an empty after', body: '{"action":"hello","after":""}' },
      { case: 'an after over 64 characters', body: `{"action":"hello","after":"${'x'.repeat(65)}"}` },
      { case: 'an after that is not a string', body: '{"action":"join","room":"kitchen","after":5}' },
    ])('refuses $case with invalid_frame', ({ body }) => {
      expect(refusalOf(body).code).toBe('invalid_frame');
    });
  });

  describe('room names', () => {
    const roomIn = (room: unknown) => parseInboundFrame(JSON.stringify({ action: 'join', room }), false, roomy);

    it.each(['a', 'lobby', 'Team-7_b', 'x'.repeat(32), '0'])('accepts %p', (room) => {
      expect(roomIn(room)).toMatchObject({ room: room.toLowerCase() });
    });

    it.each([
      { case: 'an empty room', room: '' },
      { case: 'a room over 32 characters', room: 'x'.repeat(33) },
      { case: 'a room with a space', room: 'no spaces!' },
      { case: 'a room with a dot', room: 'a.b' },
      { case: 'a room with a slash', room: '../etc' },
      { case: 'a room with a letter outside ASCII', room: 'café' },
      { case: 'a room with a trailing newline', room: 'lobby\n' },
      { case: 'a room that is not a string', room: 7 },
      { case: 'a missing room', room: undefined },
    ])('refuses $case with invalid_room', ({ room }) => {
      expect(refusalOf(JSON.stringify({ action: 'join', room }), false, roomy).code).toBe('invalid_room');
    });
  });

  describe('display names', () => {
    const nameIn = (name: unknown) => parseInboundFrame(JSON.stringify({ action: 'setname', name }), false, roomy);

    it.each(['A', 'Zoë', 'Ann Lee', 'x'.repeat(32), '😀'.repeat(32), 'محمد', '李小龙'])('accepts %p', (name) => {
      expect(nameIn(name)).toStrictEqual({ action: 'setname', name });
    });

    it("counts a name's length in characters, not UTF-16 units", () => {
      const name = '😀'.repeat(32);

      expect({ units: name.length, parsed: nameIn(name) }).toEqual({ units: 64, parsed: { action: 'setname', name } });
    });

    it('trims the spaces around a name', () => {
      expect(nameIn('\t  Ann  \n')).toStrictEqual({ action: 'setname', name: 'Ann' });
    });

    it('refuses a name of 40 characters with invalid_name', () => {
      expect(refusalOf(JSON.stringify({ action: 'setname', name: 'x'.repeat(40) }), false, roomy).code).toBe(
        'invalid_name',
      );
    });

    it.each([
      { case: 'an empty name', name: '' },
      { case: 'a name of spaces only', name: '    ' },
      { case: 'a name of 33 characters', name: 'x'.repeat(33) },
      { case: 'a name of 33 emoji', name: '😀'.repeat(33) },
      { case: 'a name that is not a string', name: 42 },
      { case: 'a missing name', name: undefined },
    ])('refuses $case with invalid_name', ({ name }) => {
      expect(refusalOf(JSON.stringify({ action: 'setname', name }), false, roomy).code).toBe('invalid_name');
    });

    it.each([
      ['NUL', '\u0000'],
      ['a tab', '\t'],
      ['a line feed', '\n'],
      ['an escape', '\u001b'],
      ['DEL', '\u007f'],
      ['NEL', '\u0085'],
      ['a C1 control', '\u009b'],
    ])('refuses a name with %s inside it', (_label, control) => {
      expect(refusalOf(JSON.stringify({ action: 'setname', name: `Ann${control}Lee` }), false, roomy).code).toBe(
        'invalid_name',
      );
    });

    it.each([
      ['U+200E LEFT-TO-RIGHT MARK', '\u200e'],
      ['U+200F RIGHT-TO-LEFT MARK', '\u200f'],
      ['U+202A LEFT-TO-RIGHT EMBEDDING', '\u202a'],
      ['U+202B RIGHT-TO-LEFT EMBEDDING', '\u202b'],
      ['U+202C POP DIRECTIONAL FORMATTING', '\u202c'],
      ['U+202D LEFT-TO-RIGHT OVERRIDE', '\u202d'],
      ['U+202E RIGHT-TO-LEFT OVERRIDE', '\u202e'],
      ['U+2066 LEFT-TO-RIGHT ISOLATE', '\u2066'],
      ['U+2067 RIGHT-TO-LEFT ISOLATE', '\u2067'],
      ['U+2068 FIRST STRONG ISOLATE', '\u2068'],
      ['U+2069 POP DIRECTIONAL ISOLATE', '\u2069'],
    ])('refuses a name with %s', (_label, control) => {
      expect(refusalOf(JSON.stringify({ action: 'setname', name: `Ann${control}Lee` }), false, roomy).code).toBe(
        'invalid_name',
      );
    });

    it.each([
      ['U+061C ARABIC LETTER MARK (Bidi_Control)', '\u061c'],
      ['U+200B ZERO WIDTH SPACE (Default_Ignorable_Code_Point)', '\u200b'],
      ['U+200C ZERO WIDTH NON-JOINER (Default_Ignorable_Code_Point)', '\u200c'],
      ['U+200D ZERO WIDTH JOINER (Default_Ignorable_Code_Point)', '\u200d'],
      ['U+2060 WORD JOINER (Default_Ignorable_Code_Point)', '\u2060'],
      ['U+00AD SOFT HYPHEN (Default_Ignorable_Code_Point)', '\u00ad'],
      ['U+034F COMBINING GRAPHEME JOINER (Default_Ignorable_Code_Point)', '\u034f'],
      ['U+3164 HANGUL FILLER (Default_Ignorable_Code_Point)', '\u3164'],
      ['U+FE0F VARIATION SELECTOR-16 (Default_Ignorable_Code_Point)', '\ufe0f'],
      ['U+E0041 TAG LATIN CAPITAL LETTER A (a tag character)', '\u{e0041}'],
      ['U+E0001 LANGUAGE TAG (a tag character)', '\u{e0001}'],
      ['U+E007F CANCEL TAG (a tag character)', '\u{e007f}'],
      ['U+2028 LINE SEPARATOR (Zl)', '\u2028'],
      ['U+2029 PARAGRAPH SEPARATOR (Zp)', '\u2029'],
    ])('refuses a name with %s inside it', (_label, invisible) => {
      expect(refusalOf(JSON.stringify({ action: 'setname', name: `Ann${invisible}Lee` }), false, roomy).code).toBe(
        'invalid_name',
      );
    });

    it.each([
      ['a zero-width space', '\u200b'],
      ['zero-width joiners and non-joiners', '\u200d\u200c\u200d'],
      ['a Hangul filler', '\u3164'],
      ['tag characters', '\u{e0041}\u{e0042}'],
    ])('refuses a name made only of %s', (_label, invisible) => {
      expect(refusalOf(JSON.stringify({ action: 'setname', name: invisible }), false, roomy).code).toBe('invalid_name');
    });
  });

  describe('clientMsgId', () => {
    const withId = (clientMsgId: unknown) => JSON.stringify({ action: 'sendmessage', text: 'hi', clientMsgId });

    it.each(['!', 'c-1', 'x'.repeat(64), '~'.repeat(64), 'a1b2-C3D4_e5:f6/g7'])('accepts %p', (clientMsgId) => {
      expect(parseInboundFrame(withId(clientMsgId), false, roomy)).toMatchObject({ clientMsgId });
    });

    it.each([
      { case: 'an empty clientMsgId', clientMsgId: '' },
      { case: 'a clientMsgId over 64 characters', clientMsgId: 'x'.repeat(65) },
      { case: 'a clientMsgId with a space', clientMsgId: 'c 1' },
      { case: 'a clientMsgId with a letter outside ASCII', clientMsgId: 'café' },
      { case: 'a clientMsgId with a control character', clientMsgId: 'c\u00071' },
      { case: 'a clientMsgId that is not a string', clientMsgId: 7 },
    ])('refuses $case with invalid_frame', ({ clientMsgId }) => {
      expect(refusalOf(withId(clientMsgId), false, roomy).code).toBe('invalid_frame');
    });

    it.each([
      { code: 'empty_message', body: '{"action":"sendmessage","text":"  ","clientMsgId":"c-1"}' },
      { code: 'message_too_large', body: `{"action":"sendmessage","text":"${'x'.repeat(21)}","clientMsgId":"c-1"}` },
      { code: 'invalid_frame', body: '{"action":"sendmessage","text":5,"clientMsgId":"c-1"}' },
      { code: 'invalid_frame', body: '{"action":5,"text":"hi","clientMsgId":"c-1"}' },
      { code: 'unknown_action', body: '{"action":"shout","text":"hi","clientMsgId":"c-1"}' },
    ])('names the clientMsgId of a message refused with $code', ({ code, body }) => {
      const refusal = refusalOf(body, false, roomy);

      expect({ code: refusal.code, clientMsgId: refusal.clientMsgId }).toEqual({ code, clientMsgId: 'c-1' });
    });

    it('names no clientMsgId when the one the frame carries is itself invalid', () => {
      expect(
        refusalOf('{"action":"sendmessage","text":"  ","clientMsgId":"c 1"}', false, roomy).clientMsgId,
      ).toBeUndefined();
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
