// Tag-name patterns of cleanup policies (operator/api/tag-regex.ts): RE2 syntax matched by JavaScript, so a
// pattern is accepted only when both engines accept it and read it the same way, and it matches whole names.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { compileTagRegex, parseCleanupPolicySpec, tagRegexError } from '../../operator/api/index.ts';

describe('tag-name patterns', () => {
  it('accepts what RE2 and JavaScript both read the same way', () => {
    for (const pattern of [
      '.*',
      'v.+',
      'v[0-9]+',
      '(?:v.+|main|release.*)',
      'main|v.+',
      '[0-9a-z]{40}',
      'v\\d+\\.\\d+\\.\\d+',
      '(?i:rc)[0-9]+',
      '(?<major>[0-9]+)[.][0-9]+',
      '[\\w-]+',
      '[-\\w]+',
      '[\\d-z]',
      'a\\-b\\_c',
      '\\x41+',
      'x{,3}',
      'v{1000}',
      '.*?-main',
      '\\bv1',
    ]) {
      assert.equal(tagRegexError(pattern), undefined, pattern);
    }
  });

  const refused: [string, RegExp][] = [
    ['(?=x).*', /lookahead and lookbehind/],
    ['(?<!x).*', /lookahead and lookbehind/],
    ['(a)\\1', /backreferences/],
    ['(?<n>a)\\k<n>', /backreferences/],
    ['a*+', /possessive/],
    ['a++', /possessive/],
    ['a?+', /possessive/],
    ['a{2}+', /possessive/],
    ['(?>a+)b', /atomic groups/],
    ['\\Av.*\\z', /\\A is not supported: the pattern is already matched against the whole tag name/],
    ['v.*\\Z', /\\Z is not supported/],
    ['\\p{L}+', /Unicode classes/],
    ['\\Qa.b\\E', /\\Q…\\E/],
    ['[[:alpha:]]+', /POSIX classes/],
    ['[]a]', /first in a character class/],
    ['[^]a]', /first in a character class/],
    ['(?i)rc', /inline flags apply to a group only/],
    ['(?U:a+)', /ungreedy/],
    ['(?P<n>a)', /\(\?<name>…\)/],
    ['a{1001}', /above 1000/],
    ['a{1,1001}', /above 1000/],
    ['\\a', /the escape \\a is not supported/],
    ['\\0', /the escape \\0 is not supported/],
    ['\\u0041', /the escape \\u is not supported/],
    ['\\x{41}', /\\xHH/],
    ['\\cA', /the escape \\c is not supported/],
    ['[\\b]', /the escape \\b is not supported/],
    ['[a-\\d]', /range in a character class/],
    ['v(1', /not a valid regular expression/],
    ['a\\', /end with a backslash/],
  ];
  for (const [pattern, message] of refused) {
    it(`refuses ${pattern}`, () => {
      const error = tagRegexError(pattern);
      assert.ok(error !== undefined, `${pattern} was accepted`);
      assert.match(error, message);
    });
  }

  it('matches whole names, a top-level alternation included', () => {
    const re = compileTagRegex('main|v.+');
    assert.deepEqual(
      ['main', 'v1', 'main-old', 'dev-1', 'xmain'].filter((t) => re.test(t)),
      ['main', 'v1'],
    );
    assert.ok(compileTagRegex('(?i:rc)1').test('RC1'));
    assert.ok(!compileTagRegex('v[0-9]+').test('v12-rc'));
  });

  it('refuses a pattern in the policy spec naming the field', () => {
    const result = parseCleanupPolicySpec({
      registryRef: { name: 'r' },
      cadence: '1d',
      nameRegex: '\\Av.+\\z',
    });
    assert.equal(result.success, false);
    if (!result.success) {
      assert.deepEqual(
        result.issues.map((i) => i.field),
        ['spec.nameRegex'],
      );
    }
  });
});
