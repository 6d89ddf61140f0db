// Repository path patterns for access tokens, `public` repositories and ServiceAccount prefixes.
// `*` matches within one path component, `**` across components, `?` one character other than `/`:
// `team/*` matches `team/app` but not `team/app/cache`; `team/**` matches both (not `team` itself); `**` all.
import { z } from 'zod';

const patternSyntax = /^[a-z0-9._\-/*?]+$/;

export const repositoryPatternSchema = z
  .string()
  .max(255)
  .regex(patternSyntax, 'repository patterns use lowercase names, `/`, and the wildcards `*`, `**`, `?`')
  .refine((p) => !p.includes('***'), 'use `*` or `**`, not `***`');

export function compilePattern(pattern: string): RegExp {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] ?? '';
    if (c === '*' && pattern[i + 1] === '*') {
      source += '.*';
      i++;
    } else if (c === '*') {
      source += '[^/]*';
    } else if (c === '?') {
      source += '[^/]';
    } else {
      source += c.replace(/[.\-/]/g, (ch) => `\\${ch}`);
    }
  }
  return new RegExp(`^${source}$`);
}

export function matchesAny(patterns: readonly RegExp[], name: string): boolean {
  return patterns.some((p) => p.test(name));
}
