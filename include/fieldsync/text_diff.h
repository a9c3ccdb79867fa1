/*
 * fieldsync — two text values compared line by line (libgit2's diff), for
 * `fieldsync diff` and the document browser's history.
 *
 * Values rarely end with a newline: when neither does, they are compared
 * as if both did, so no "no newline at end" line appears.
 */
#ifndef FIELDSYNC_TEXT_DIFF_H
#define FIELDSYNC_TEXT_DIFF_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * One line of the diff. op is '@' for a hunk's header (old_start,
 * old_lines, new_start, new_lines set; no text), '-' for a line only in
 * the first value, '+' only in the second, ' ' in both, '\\' for "no
 * newline at the end". text (not NUL-terminated, no newline) is borrowed
 * for the call only, and may hold any bytes: escape it for the output.
 */
typedef struct fsy_diff_line {
    char op;
    const char *text;
    size_t len;
    int old_start, old_lines, new_start, new_lines;
} fsy_diff_line_t;

/* Returns 0 to go on, non-zero to stop (that value is returned). */
typedef int (*fsy_diff_cb)(const fsy_diff_line_t *l, void *ctx);

/* Compares a with b with `context` lines around each change; *hunks is
 * how many hunks there were (0: the same text). FSY_ENOMEM or FSY_EIO
 * (detail set) when the diff cannot be made. */
int fsy_text_diff(const char *a, size_t alen, const char *b, size_t blen,
                  unsigned context, fsy_diff_cb cb, void *ctx, size_t *hunks);

#ifdef __cplusplus
}
#endif
#endif
