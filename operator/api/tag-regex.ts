// Tag-name regular expressions of cleanup policies. They are RE2 patterns, as in GitLab, but the operator
// matches with JavaScript's engine: a pattern is accepted only when both engines accept it and match every
// tag name the same way. Tag names are ASCII (`[A-Za-z0-9_][A-Za-z0-9._-]*`), which makes the classes both
// engines have (\d, \w, \s, \b) agree; what is refused below is what RE2 lacks, or what JavaScript would
// silently read differently (JavaScript without the `u` flag takes an unknown escape such as \A or \p as the
// letter itself).

/** RE2 refuses repetition counts above 1000. */
const maxRepeat = 1000;

/** Escapes that mean the same in both engines; any other ASCII letter or digit after a backslash is refused. */
const sharedEscapes = new Set(['d', 'D', 'w', 'W', 's', 'S', 't', 'n', 'r', 'f', 'v']);

const refusedEscapes: Record<string, string> = {
  A: 'the pattern is already matched against the whole tag name',
  z: 'the pattern is already matched against the whole tag name',
  Z: 'the pattern is already matched against the whole tag name',
  p: 'Unicode classes (\\p, \\P) are not supported; tag names are ASCII',
  P: 'Unicode classes (\\p, \\P) are not supported; tag names are ASCII',
  Q: 'quoting with \\Q…\\E is not supported; escape each character',
};

/**
 * Why a tag-name pattern is refused, or undefined. The messages name the construct, as the API server's
 * admission error does (the zod schema runs this).
 */
export function tagRegexError(pattern: string): string | undefined {
  const scan = scanPattern(pattern);
  if (scan !== undefined) return scan;
  try {
    new RegExp(pattern);
  } catch (err) {
    return `not a valid regular expression: ${err instanceof Error ? err.message : String(err)}`;
  }
  return undefined;
}

/**
 * Compiles a tag-name pattern into a RegExp that must match the whole name: GitLab wraps patterns in
 * \A…\z; the group keeps a top-level alternation (`main|v.+`) inside the anchors.
 */
export function compileTagRegex(pattern: string): RegExp {
  return new RegExp(`^(?:${pattern})$`);
}

/** One pass over the pattern that finds constructs the two engines disagree on. */
function scanPattern(p: string): string | undefined {
  let inClass = false;
  for (let i = 0; i < p.length; i++) {
    const c = p[i];
    if (c === '\\') {
      const error = escapeError(p, i, inClass) ?? (inClass ? classRangeError(p, i) : undefined);
      if (error !== undefined) return error;
      i += p[i + 1] === 'x' ? 3 : 1;
      continue;
    }
    if (inClass) {
      if (c === '[' && p[i + 1] === ':')
        return 'POSIX classes such as [[:alpha:]] are not supported; use [a-zA-Z]';
      if (c === ']') inClass = false;
      continue;
    }
    if (c === '[') {
      inClass = true;
      if (p[i + 1] === '^') i++;
      // RE2 takes a `]` right after `[` or `[^` as a literal; JavaScript as the end of an empty class.
      if (p[i + 1] === ']') return 'a "]" first in a character class must be escaped as \\]';
      continue;
    }
    if (c === '(' && p[i + 1] === '?') {
      const error = groupError(p.slice(i + 2));
      if (error !== undefined) return error;
      continue;
    }
    if (c === '*' || c === '+' || c === '?') {
      if (p[i + 1] === '+') return 'possessive quantifiers (*+, ++, ?+) are not supported (RE2 syntax)';
      continue;
    }
    if (c === '{') {
      const repeat = /^\{(\d+)(,(\d*))?\}/.exec(p.slice(i));
      if (!repeat) continue; // a literal brace in both engines
      const counts = [repeat[1], repeat[3]].filter((n) => n !== undefined && n !== '').map(Number);
      if (counts.some((n) => n > maxRepeat))
        return `repetition counts above ${maxRepeat} are not supported (RE2)`;
      i += repeat[0].length - 1;
      if (p[i + 1] === '+') return 'possessive quantifiers (*+, ++, ?+) are not supported (RE2 syntax)';
    }
  }
  return undefined;
}

function escapeError(p: string, i: number, inClass: boolean): string | undefined {
  const e = p[i + 1];
  if (e === undefined) return 'a pattern cannot end with a backslash';
  if (/[1-9]/.test(e) || (e === 'k' && p[i + 2] === '<'))
    return 'backreferences are not supported (RE2 syntax)';
  const refused = refusedEscapes[e];
  if (refused !== undefined) return `\\${e} is not supported: ${refused}`;
  if (e === 'x') {
    return /^[0-9A-Fa-f]{2}$/.test(p.slice(i + 2, i + 4)) ? undefined : 'write \\x escapes as \\xHH';
  }
  if ((e === 'b' || e === 'B') && !inClass) return undefined;
  if (sharedEscapes.has(e)) return undefined;
  if (/[A-Za-z0-9]/.test(e)) return `the escape \\${e} is not supported (RE2 syntax)`;
  // A backslash before punctuation is the character itself in both engines; before anything else, in neither.
  return e.charCodeAt(0) < 0x80 ? undefined : `the escape \\${e} is not supported (RE2 syntax)`;
}

/** JavaScript takes `[a-\\d]` as "a", "-" and \\d; RE2 refuses a range that ends at a class. */
function classRangeError(p: string, i: number): string | undefined {
  const isClassEscape = /[dDwWsS]/.test(p[i + 1] ?? '');
  const endsRange = p[i - 1] === '-' && p[i - 2] !== undefined && p[i - 2] !== '[' && p[i - 2] !== '^';
  return isClassEscape && endsRange
    ? 'a range in a character class cannot end at \\d, \\w or \\s (RE2 syntax); escape the "-"'
    : undefined;
}

/** `rest` follows `(?`. */
function groupError(rest: string): string | undefined {
  if (/^<?[=!]/.test(rest)) return 'lookahead and lookbehind are not supported (RE2 syntax)';
  if (rest.startsWith('>')) return 'atomic groups (?>…) are not supported (RE2 syntax)';
  if (rest.startsWith('P<')) return 'write named groups as (?<name>…)';
  // Inline flags: both engines know (?i:…), (?m:…), (?s:…) and their negations; a bare (?i) only RE2.
  if (/^[-imsU]+\)/.test(rest)) return 'inline flags apply to a group only: write (?i:…)';
  if (/^[-ims]*U/.test(rest)) return 'the U (ungreedy) flag is not supported';
  return undefined;
}
