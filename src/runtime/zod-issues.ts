import type * as zc from 'zod/v4/core';

/**
 * One line for a list of zod issues: `path.to.field: message; …`. An issue at the top level is prefixed
 * with `root` (none when `root` is empty).
 */
export function formatZodIssues(issues: readonly zc.$ZodIssue[], root = '(root)'): string {
  return issues
    .map((i) => {
      const path = i.path.length ? i.path.map(String).join('.') : root;
      return path ? `${path}: ${i.message}` : i.message;
    })
    .join('; ');
}
