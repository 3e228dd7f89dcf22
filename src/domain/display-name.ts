/**
 * Characters no display name may hold: controls, line and paragraph separators, every bidirectional control
 * and every default-ignorable code point (zero-width characters, joiners, fillers, variation selectors, tag
 * characters). They would let a name pass for another, look empty, or reorder or break a client's line.
 */
export const UNSAFE_NAME_CHARACTER = /[\p{Cc}\p{Zl}\p{Zp}\p{Bidi_Control}\p{Default_Ignorable_Code_Point}]/u;

/** The longest display name, in characters (code points), not UTF-16 units. */
export const MAX_NAME_CHARACTERS = 32;
