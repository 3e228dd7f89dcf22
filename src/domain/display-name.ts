/**
 * Characters no display name may hold: controls, line and paragraph separators, every bidirectional control
 * and every default-ignorable code point (zero-width characters, joiners, fillers, variation selectors, tag
 * characters). They would let a name pass for another, look empty, or reorder or break a client's line.
 */
export const UNSAFE_NAME_CHARACTER = /[\p{Cc}\p{Zl}\p{Zp}\p{Bidi_Control}\p{Default_Ignorable_Code_Point}]/u;

/** The longest display name, in characters (code points), not UTF-16 units. */
export const MAX_NAME_CHARACTERS = 32;

/**
 * Alphabets whose letters pass for one another ("А" Cyrillic, "Α" Greek and "A" Latin look the same). A name
 * may hold letters of one of them at most: a Script property check (UTS #39's idea of a mixed-script name,
 * without its confusables data), so "Аlice" with a Cyrillic "А" is refused, and "Zoë", "Дмитрий", "李 Li" pass.
 */
const LOOK_ALIKE_SCRIPTS: ReadonlyArray<readonly [string, RegExp]> = [
  ['Latin', /\p{Script=Latin}/u],
  ['Greek', /\p{Script=Greek}/u],
  ['Cyrillic', /\p{Script=Cyrillic}/u],
  ['Armenian', /\p{Script=Armenian}/u],
  ['Cherokee', /\p{Script=Cherokee}/u],
  ['Coptic', /\p{Script=Coptic}/u],
  ['Lisu', /\p{Script=Lisu}/u],
];

/** Format characters (Cf): invisible, whether or not Unicode calls them default-ignorable. */
const FORMAT_CHARACTER = /\p{Cf}/u;
/** Letters and symbols that show as blank: U+2800 BRAILLE PATTERN BLANK and the Hangul fillers. */
const BLANK_LOOKING = /[\u2800\u115F\u1160\u3164\uFFA0]/u;
/** What can be seen: a letter, a digit, a punctuation mark or a symbol. */
const VISIBLE = /[\p{L}\p{N}\p{P}\p{S}]/u;
const LEADING_MARK = /^\p{M}/u;
/** The page's mark of its own user; NFKC first, so fullwidth or superscript forms of it count too. */
const SELF_MARK = /\(\s*you\s*\)/iu;

/**
 * Why a name (already trimmed, its length and characters checked against {@link UNSAFE_NAME_CHARACTER}) could
 * pass for another member or for the page's own marks, in words fit to show its sender; `undefined` when it is
 * fine. Refused: format characters, blank-looking ones, a combining mark first, nothing visible at all,
 * letters of two look-alike alphabets, and "(you)".
 */
export function lookAlikeNameProblem(name: string): string | undefined {
  if (FORMAT_CHARACTER.test(name)) return 'a name cannot contain invisible formatting characters';
  if (BLANK_LOOKING.test(name)) return 'a name cannot contain characters that show as blank';
  if (!VISIBLE.test(name)) return 'a name needs at least one visible letter, digit, punctuation mark or symbol';
  if (LEADING_MARK.test(name)) return 'a name cannot start with a combining mark';
  const scripts = LOOK_ALIKE_SCRIPTS.filter(([, letters]) => letters.test(name)).map(([script]) => script);
  if (scripts.length > 1) return `a name cannot mix ${scripts.join(' and ')} letters, which look alike`;
  if (SELF_MARK.test(name.normalize('NFKC'))) return 'a name cannot contain "(you)", which marks your own name';
  return undefined;
}
