/*
 * fieldsync — three-way merge of text values (text_merge.h), by libgit2's
 * file merge (xdiff, as `git merge-file`).
 *
 * The merge that decides a field's shown value runs with libgit2's default
 * options, so every site computes the same bytes from the same three
 * inputs. Overlaps are shown from a second merge in diff3 style, whose
 * conflict markers are made longer than any run of marker characters
 * opening a line of the inputs, so they can be told from the text.
 */
#include <stdlib.h>
#include <string.h>

#include <git2.h>

#include "fieldsync/error.h"
#include "fieldsync/ident.h"
#include "fieldsync/text_merge.h"
#include "git_once.h"

/* xdiff's default, and the longest marker we ask for: each overlap costs
 * four of them in the output, and text with longer runs of marker
 * characters (hostile, or a ruler of ====) is shown whole instead. */
#define MARKER_MIN 7
#define MARKER_MAX 128

bool
fsy_text_is_text(const uint8_t *v, size_t len)
{
    return len == 0 || (memchr(v, 0, len) == NULL && fsy_utf8_valid(v, len));
}

bool
fsy_text_mergeable(const uint8_t *v, size_t len)
{
    return len > 0 && memchr(v, '\n', len) != NULL && fsy_text_is_text(v, len);
}

static void
s_input(git_merge_file_input *in, const char *p, size_t len)
{
    git_merge_file_input_init(in, GIT_MERGE_FILE_INPUT_VERSION);
    in->ptr = p;
    in->size = len;
}

/* Runs git_merge_file; the result is the caller's to free. */
static int
s_merge(const char *base, size_t base_len, const char *a, size_t a_len,
        const char *b, size_t b_len, const git_merge_file_options *o,
        git_merge_file_result *r)
{
    git_merge_file_input in[3];
    s_input(&in[0], base, base_len);
    s_input(&in[1], a, a_len);
    s_input(&in[2], b, b_len);
    memset(r, 0, sizeof *r);
    fsy_git_ready();
    int rc = git_merge_file(r, &in[0], &in[1], &in[2], o);
    if (rc != 0) {
        /* Out of memory is this machine's state, not the texts': it must
         * fail the read (and be retried), never show another value. */
        const git_error *e = git_error_last();
        rc = e != NULL && e->klass == GIT_ERROR_NOMEMORY
                 ? fsy_err_set(FSY_ENOMEM, "out of memory merging texts")
                 : fsy_err_set(FSY_EIO, "cannot merge the values: %s",
                               e != NULL ? e->message : "libgit2 failed");
        git_merge_file_result_free(r);
        memset(r, 0, sizeof *r);
    }
    return rc;
}

int
fsy_text_merge3(const char *base, size_t base_len, const char *a, size_t a_len,
                const char *b, size_t b_len, bool *clean, char **out,
                size_t *out_len)
{
    git_merge_file_options o;
    git_merge_file_options_init(&o, GIT_MERGE_FILE_OPTIONS_VERSION);
    git_merge_file_result r;
    *out = NULL;
    *out_len = 0;
    *clean = false;
    int rc = s_merge(base, base_len, a, a_len, b, b_len, &o, &r);
    if (rc != FSY_OK)
        return rc;
    if (r.automergeable) {
        if ((*out = malloc(r.len + 1)) == NULL) {
            git_merge_file_result_free(&r);
            return fsy_err_set(FSY_ENOMEM, "out of memory");
        }
        if (r.len > 0)
            memcpy(*out, r.ptr, r.len);
        (*out)[r.len] = '\0';
        *out_len = r.len;
        *clean = true;
    }
    git_merge_file_result_free(&r);
    return FSY_OK;
}

/* ---- overlaps --------------------------------------------------------- */

/* The longest run of c opening a line of v. */
static size_t
s_run(const char *v, size_t len, char c)
{
    size_t best = 0;
    for (size_t i = 0; i < len;) {
        size_t k = 0;
        while (i + k < len && v[i + k] == c)
            k++;
        if (k > best)
            best = k;
        const char *nl = memchr(v + i + k, '\n', len - i - k);
        i = nl != NULL ? (size_t)(nl - v) + 1 : len;
    }
    return best;
}

static size_t
s_marker_size(const char *const v[3], const size_t len[3])
{
    static const char marks[] = "<|=>";
    size_t m = MARKER_MIN - 1;
    for (int i = 0; i < 3; i++)
        for (const char *c = marks; *c; c++) {
            size_t r = s_run(v[i], len[i], *c);
            if (r > m)
                m = r;
        }
    return m + 1;
}

typedef struct s_scan {
    const char *p, *end;
    size_t marker;
} s_scan_t;

/* The next line [*l, *l + *n) including its newline; false at the end. */
static bool
s_line(s_scan_t *s, const char **l, size_t *n)
{
    if (s->p >= s->end)
        return false;
    const char *nl = memchr(s->p, '\n', (size_t)(s->end - s->p));
    *l = s->p;
    *n = nl != NULL ? (size_t)(nl - s->p) + 1 : (size_t)(s->end - s->p);
    s->p += *n;
    return true;
}

/* Whether the line opens with exactly s->marker copies of c. */
static bool
s_is_marker(const s_scan_t *s, const char *l, size_t n, char c)
{
    if (n < s->marker)
        return false;
    for (size_t i = 0; i < s->marker; i++)
        if (l[i] != c)
            return false;
    return n == s->marker || l[s->marker] == ' ' || l[s->marker] == '\n' ||
           l[s->marker] == '\r'; /* xdiff ends markers as the text's lines */
}

/* Reads lines up to the marker c: [*start, *start + *len) without the
 * newline ending the section; *lines counts them. */
static bool
s_section(s_scan_t *s, char c, const char **start, size_t *len, size_t *lines)
{
    const char *l;
    size_t n;
    *start = s->p;
    *lines = 0;
    while (s_line(s, &l, &n)) {
        if (s_is_marker(s, l, n, c)) {
            *len = (size_t)(l - *start);
            if (*len > 0 && (*start)[*len - 1] == '\n')
                (*len)--;
            return true;
        }
        (*lines)++;
    }
    return false;
}

static int
s_scan_hunks(s_scan_t *s, fsy_text_hunk_cb cb, void *ctx, size_t *n)
{
    const char *l;
    size_t len, line = 1, base_lines, b_lines;
    int rc = 0;
    while (rc == 0 && s_line(s, &l, &len)) {
        if (!s_is_marker(s, l, len, '<')) {
            line++;
            continue;
        }
        fsy_text_hunk_t h = {.line = line};
        size_t a_lines;
        if (!s_section(s, '|', &h.a, &h.a_len, &a_lines) ||
            !s_section(s, '=', &h.base, &h.base_len, &base_lines) ||
            !s_section(s, '>', &h.b, &h.b_len, &b_lines))
            return fsy_err_set(FSY_EIO, "cannot read the merge's overlaps");
        line += a_lines;
        (*n)++;
        rc = cb(&h, ctx);
    }
    return rc;
}

int
fsy_text_merge_hunks(const char *base, size_t base_len, const char *a,
                     size_t a_len, const char *b, size_t b_len,
                     fsy_text_hunk_cb cb, void *ctx, size_t *n)
{
    const char *v[3] = {base, a, b};
    const size_t len[3] = {base_len, a_len, b_len};
    size_t marker = s_marker_size(v, len);
    *n = 0;
    if (marker > MARKER_MAX) { /* no marker can be told from the text */
        fsy_text_hunk_t h = {1, a, base, b, a_len, base_len, b_len};
        *n = 1;
        return cb(&h, ctx);
    }
    git_merge_file_options o;
    git_merge_file_options_init(&o, GIT_MERGE_FILE_OPTIONS_VERSION);
    o.flags = GIT_MERGE_FILE_STYLE_DIFF3;
    o.marker_size = (unsigned short)marker;
    git_merge_file_result r;
    int rc = s_merge(base, base_len, a, a_len, b, b_len, &o, &r);
    if (rc != FSY_OK)
        return rc;
    if (!r.automergeable) {
        s_scan_t s = {r.ptr, r.ptr + r.len, marker};
        rc = s_scan_hunks(&s, cb, ctx, n);
    }
    git_merge_file_result_free(&r);
    return rc;
}
