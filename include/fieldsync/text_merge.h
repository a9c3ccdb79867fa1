/*
 * fieldsync — three-way merge of text values, line by line (libgit2's
 * file merge). Pure functions of their inputs: the store folds a field's
 * concurrent heads with them (lib/store_merge.c), the tool and the browser
 * show where edits overlap.
 *
 * Ownership: a merged text is malloc'd and the caller frees it; hunks are
 * borrowed for the callback only.
 */
#ifndef FIELDSYNC_TEXT_MERGE_H
#define FIELDSYNC_TEXT_MERGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Longest merge rule sites compare (fsy_store_merge_rule()). */
#define FSY_MERGE_RULE_MAX 600

/* Text a merge may read as a base: valid UTF-8 without NUL bytes (empty
 * text is text). */
bool fsy_text_is_text(const uint8_t *v, size_t len);

/* Line-structured text a merge may combine: text with at least one line
 * break. Single-line values (a status, an owner) are registers. */
bool fsy_text_mergeable(const uint8_t *v, size_t len);

/*
 * Merges the edits that a and b made to base. On FSY_OK *clean says
 * whether they touch different lines; if clean, *out (malloc'd, caller
 * frees; NUL-terminated, *out_len without the NUL) is the merged text.
 * FSY_ENOMEM if memory ran out (here or in libgit2), FSY_EIO (detail set)
 * if libgit2 refuses these texts (the same for the same texts anywhere).
 */
int fsy_text_merge3(const char *base, size_t base_len, const char *a,
                    size_t a_len, const char *b, size_t b_len, bool *clean,
                    char **out, size_t *out_len);

/*
 * A place where a and b changed the same lines of base: `line` is the
 * 1-based line of a where it starts; each side's lines (NUL-free, no
 * trailing newline stripped) are borrowed for the callback only, may be
 * empty, and may hold anything: escape them for the output.
 */
typedef struct fsy_text_hunk {
    size_t line;
    const char *a, *base, *b;
    size_t a_len, base_len, b_len;
} fsy_text_hunk_t;

/* Returns 0 to go on, non-zero to stop (that value is returned). */
typedef int (*fsy_text_hunk_cb)(const fsy_text_hunk_t *h, void *ctx);

/* The overlapping hunks of the same merge, in order of a's lines; *n is
 * how many (0: the merge is clean). Errors as fsy_text_merge3(). */
int fsy_text_merge_hunks(const char *base, size_t base_len, const char *a,
                         size_t a_len, const char *b, size_t b_len,
                         fsy_text_hunk_cb cb, void *ctx, size_t *n);

#ifdef __cplusplus
}
#endif
#endif
