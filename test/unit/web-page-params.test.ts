import { describe, expect, it } from '@jest/globals';
import {
  KEEP_ALIVE_DEFAULT_MS,
  KEEP_ALIVE_MAX_MS,
  KEEP_ALIVE_MIN_MS,
  nameProblem,
  readPageParams,
  validName,
  validServerUrl,
} from '../../web/src/page-params.ts';

describe('readPageParams', () => {
  it.each(['0', '1', '250', '29999'])('never pings more often than every 30 s, even with ?keepalive=%s', (value) => {
    expect(readPageParams(new URLSearchParams({ keepalive: value })).keepAliveMs).toBe(KEEP_ALIVE_MIN_MS);
  });

  it.each(['', '-1', 'abc', '0.001', '1e3', 'Infinity', 'NaN', ' 60000'])(
    'pings at the default rate when ?keepalive=%s is no number of milliseconds',
    (value) => {
      expect(readPageParams(new URLSearchParams({ keepalive: value })).keepAliveMs).toBe(KEEP_ALIVE_DEFAULT_MS);
    },
  );

  it('pings before API Gateway closes an idle connection, however long ?keepalive asks to wait', () => {
    expect(readPageParams(new URLSearchParams({ keepalive: '3600000' })).keepAliveMs).toBe(KEEP_ALIVE_MAX_MS);
  });

  it('keeps a keep-alive within the bounds as given', () => {
    expect(readPageParams(new URLSearchParams({ keepalive: '60000' })).keepAliveMs).toBe(60_000);
  });

  it('takes a room by the server rule, lower-cased', () => {
    expect(readPageParams(new URLSearchParams({ room: 'Kitchen_2' })).room).toBe('kitchen_2');
  });

  it.each(['', '../etc', 'no spaces', 'x'.repeat(33), 'café'])('drops the room %j', (room) => {
    expect(readPageParams(new URLSearchParams({ room })).room).toBeUndefined();
  });

  it('drops a token that is not shaped like a JWT', () => {
    expect(readPageParams(new URLSearchParams({ token: '<script>' })).token).toBeUndefined();
  });

  it('keeps a token shaped like a JWT', () => {
    expect(readPageParams(new URLSearchParams({ token: 'aGVhZA.Ym9keQ.c2ln' })).token).toBe('aGVhZA.Ym9keQ.c2ln');
  });

  it('reads nothing when the address has no query', () => {
    expect(readPageParams(new URLSearchParams())).toEqual({
      keepAliveMs: KEEP_ALIVE_DEFAULT_MS,
      room: undefined,
      name: undefined,
      token: undefined,
      server: undefined,
    });
  });
});

describe('validName', () => {
  it('trims a name', () => {
    expect(validName('  Ann  ')).toBe('Ann');
  });

  it('keeps letters of any script', () => {
    expect(validName('علي')).toBe('علي');
  });

  it.each([
    ['a right-to-left override', '\u202eAnn'],
    ['an Arabic letter mark', 'Ann\u061c'],
    ['a zero-width space only', '\u200b'],
    ['a zero-width joiner', 'An\u200dn'],
    ['a line separator', 'Ann\u2028Bob'],
    ['a tag character', 'Ann\u{e0041}'],
    ['a control character', 'Ann\u0007'],
    ['nothing once trimmed', '   '],
    ['33 characters', 'x'.repeat(33)],
    ['a Cyrillic letter among Latin ones', '\u0410lice'],
    ['a braille blank only', '\u2800'],
    ['combining marks only', '\u0301\u0308'],
    ['"(you)" after it', 'Ann (you)'],
  ])('refuses a name with %s', (_, name) => {
    expect(validName(name)).toBeUndefined();
  });

  it('says why the server would refuse a name, in its words', () => {
    expect(nameProblem('\u0410lice')).toBe('a name cannot mix Latin and Cyrillic letters, which look alike');
  });
});

describe('validServerUrl', () => {
  it('keeps a wss:// address with its path, without its query', () => {
    expect(validServerUrl('wss://abc.execute-api.eu-west-1.amazonaws.com/prod?token=x#y')).toBe(
      'wss://abc.execute-api.eu-west-1.amazonaws.com/prod',
    );
  });

  it('writes an address without a path the way the page compares it', () => {
    expect(validServerUrl('ws://127.0.0.1:3001')).toBe('ws://127.0.0.1:3001/');
  });

  it.each(['javascript:alert(1)', 'http://example.com/', 'wss://user:pw@example.com/', 'example.com', ''])(
    'refuses %j',
    (value) => {
      expect(validServerUrl(value)).toBeUndefined();
    },
  );
});
