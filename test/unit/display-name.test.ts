import { describe, expect, it } from '@jest/globals';
import { InvalidFrameError, parseInboundFrame } from '../../src/handlers/frames/inbound-frame.ts';

const limits = { maxFrameBytes: 1000, maxTextBytes: 20 };

/** The error frame a setname with this name is answered with, or the name the chat took. */
function setname(name: string): { code: string; message: string } | { name: string } {
  try {
    const request = parseInboundFrame(JSON.stringify({ action: 'setname', name }), false, limits);
    return { name: request.action === 'setname' ? request.name : '' };
  } catch (error) {
    if (!(error instanceof InvalidFrameError)) throw error;
    return { code: error.code, message: error.message };
  }
}

describe('display names that could pass for another', () => {
  it.each([
    'Alice',
    'Zoë',
    'Ann Lee',
    'Дмитрий',
    'Ελένη',
    'محمد',
    '李小龙',
    '李 Li',
    'Anna 😀',
    'R2-D2',
    'Youssef (Paris)',
    'you',
    '★',
    'Zoe\u0301',
  ])('accepts %p', (name) => {
    expect(setname(name)).toEqual({ name });
  });

  it.each([
    [
      'a Cyrillic А among Latin letters',
      '\u0410lice',
      'a name cannot mix Latin and Cyrillic letters, which look alike',
    ],
    ['a Greek ο among Latin letters', 'B\u03bfb', 'a name cannot mix Latin and Greek letters, which look alike'],
    ['a Latin o among Cyrillic letters', 'Дмитрoй', 'a name cannot mix Latin and Cyrillic letters, which look alike'],
    ['a braille blank alone', '\u2800', 'a name cannot contain characters that show as blank'],
    ['a braille blank after a name', 'Alice\u2800', 'a name cannot contain characters that show as blank'],
    [
      'combining marks only',
      '\u0301\u0308\u0323',
      'a name needs at least one visible letter, digit, punctuation mark or symbol',
    ],
    ['a combining mark first', '\u0301Alice', 'a name cannot start with a combining mark'],
    [
      'U+0600 ARABIC NUMBER SIGN (a format character)',
      'Ann\u0600',
      'a name cannot contain invisible formatting characters',
    ],
    ['U+FFF9 INTERLINEAR ANNOTATION ANCHOR', 'Ann\ufff9Lee', 'a name cannot contain invisible formatting characters'],
    ['"(you)" after a name', 'Alice (you)', 'a name cannot contain "(you)", which marks your own name'],
    ['"( YOU )" after a name', 'Alice ( YOU )', 'a name cannot contain "(you)", which marks your own name'],
    [
      'a fullwidth "（ｙｏｕ）"',
      'Alice \uff08\uff59\uff4f\uff55\uff09',
      'a name cannot contain "(you)", which marks your own name',
    ],
  ])('refuses a name with %s with invalid_name, saying why', (_label, name, message) => {
    expect(setname(name)).toEqual({ code: 'invalid_name', message: `name: ${message}` });
  });
});
