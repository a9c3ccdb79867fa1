/*
 * fieldsync — text values compared line by line (text_diff.h), by
 * libgit2's diff of two buffers.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <git2.h>

#include "fieldsync/error.h"
#include "fieldsync/text_diff.h"
#include "git_once.h"

/* A copy of v with a final newline (an empty value stays empty). */
static char *
s_line_end(const char *v, size_t *len)
{
    char *c = malloc(*len + 2);
    if (c != NULL) {
        if (*len > 0)
            memcpy(c, v, *len);
        if (*len > 0)
            c[(*len)++] = '\n';
        c[*len] = '\0';
    }
    return c;
}

static int
s_emit(git_patch *p, fsy_diff_cb cb, void *ctx)
{
    int rc = 0;
    for (size_t h = 0; rc == 0 && h < git_patch_num_hunks(p); h++) {
        const git_diff_hunk *hunk;
        size_t lines;
        if (git_patch_get_hunk(&hunk, &lines, p, h) != 0)
            return fsy_err_set(FSY_EIO, "cannot read a diff's hunk");
        fsy_diff_line_t l = {.op = '@',
                             .old_start = hunk->old_start,
                             .old_lines = hunk->old_lines,
                             .new_start = hunk->new_start,
                             .new_lines = hunk->new_lines};
        rc = cb(&l, ctx);
        for (size_t k = 0; rc == 0 && k < lines; k++) {
            const git_diff_line *gl;
            if (git_patch_get_line_in_hunk(&gl, p, h, k) != 0)
                return fsy_err_set(FSY_EIO, "cannot read a diff's line");
            size_t n = gl->content_len;
            if (n > 0 && gl->content[n - 1] == '\n')
                n--;
            bool mark =
                gl->origin == '+' || gl->origin == '-' || gl->origin == ' ';
            l = (fsy_diff_line_t){.op = mark ? gl->origin : '\\',
                                  .text = mark ? gl->content : "",
                                  .len = mark ? n : 0};
            rc = cb(&l, ctx);
        }
    }
    return rc;
}

int
fsy_text_diff(const char *a, size_t alen, const char *b, size_t blen,
              unsigned context, fsy_diff_cb cb, void *ctx, size_t *hunks)
{
    char *ac = NULL, *bc = NULL;
    if ((alen == 0 || a[alen - 1] != '\n') &&
        (blen == 0 || b[blen - 1] != '\n')) {
        ac = s_line_end(a, &alen);
        bc = s_line_end(b, &blen);
        if (ac == NULL || bc == NULL) {
            free(ac);
            free(bc);
            return fsy_err_set(FSY_ENOMEM, "out of memory");
        }
        a = ac;
        b = bc;
    }
    fsy_git_ready();
    git_diff_options o;
    git_diff_options_init(&o, GIT_DIFF_OPTIONS_VERSION);
    o.flags = GIT_DIFF_FORCE_TEXT;
    o.context_lines = context;
    git_patch *p = NULL;
    /* the patch points into the buffers: they outlive it */
    int rc = git_patch_from_buffers(&p, a, alen, NULL, b, blen, NULL, &o);
    if (rc != 0) {
        const git_error *e = git_error_last();
        rc = fsy_err_set(FSY_EIO, "cannot compare the values: %s",
                         e != NULL ? e->message : "libgit2 failed");
    } else {
        *hunks = git_patch_num_hunks(p);
        rc = s_emit(p, cb, ctx);
    }
    git_patch_free(p);
    free(ac);
    free(bc);
    return rc;
}
