/*
 * fieldsync — text merge benchmark: what showing a merged field costs.
 *
 *   bench_merge [--kb N] [--history H] [--runs K]
 *
 * HQ writes a plan whose body is N KB of prose (~70-byte lines), edits it
 * H times (a long history to walk), and sends it to Bamako, Gao and Kidal.
 * Each edits a paragraph of its own while offline; the edits are
 * exchanged. Then, at a replica holding it all, the document is loaded
 * (fsy_store_get, what get, list, export and the digest do) K times:
 *   - merged, 2 heads: Bamako's and Gao's edits only;
 *   - merged, 3 heads: Kidal's too;
 *   - baseline: the same document at a replica holding one edit (no merge);
 *   - the three-way merge alone (fsy_text_merge3) on the same texts.
 * Medians of K loads, in ms. The work happens in a fresh directory under
 * /tmp, removed at the end.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fieldsync/error.h"
#include "fieldsync/store.h"
#include "fieldsync/text_merge.h"

#define SCOPE "MLI"
#define DOC "isf-mli-2027"

static double
s_now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static void
s_die(const char *what)
{
    fprintf(stderr, "bench_merge: %s: %s\n", what, fsy_errdetail());
    exit(1);
}

static int
s_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double
s_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, s_cmp);
    return v[n / 2];
}

/* N KB of numbered lines of prose, a blank line every fifth. */
static char *
s_body(size_t kb, int variant, size_t edit_line)
{
    size_t cap = kb * 1024 + 256, len = 0;
    char *b = malloc(cap);
    if (b == NULL)
        exit(1);
    for (size_t i = 0; len + 100 < kb * 1024; i++) {
        if (i % 5 == 4)
            len += (size_t)snprintf(b + len, cap - len, "\n");
        else if (i == edit_line && variant > 0)
            len += (size_t)snprintf(b + len, cap - len,
                                    "Line %zu: revised by site %d after the "
                                    "joint assessment mission.\n",
                                    i, variant);
        else
            len += (size_t)snprintf(b + len, cap - len,
                                    "Line %zu: patrols and partners report "
                                    "access along the river road.\n",
                                    i);
    }
    return b;
}

static void
s_put(fsy_store_t *s, const char *kind, const char *body)
{
    fsy_field_set_t set = {"body", (const uint8_t *)body, strlen(body), false};
    if (fsy_store_put(s, SCOPE, DOC, kind, &set, 1) != FSY_OK)
        s_die("put");
}

typedef struct list {
    fsy_change_t *v;
    size_t n, cap;
} list_t;

static int
s_collect(const fsy_change_t *c, void *ctx)
{
    list_t *l = ctx;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->v = realloc(l->v, l->cap * sizeof *l->v);
        if (l->v == NULL)
            exit(1);
    }
    return fsy_change_copy(&l->v[l->n++], c);
}

/* Everything `to` lacks from `from`. */
static void
s_sync(fsy_store_t *from, fsy_store_t *to)
{
    fsy_vv_t *vv;
    list_t l = {0};
    if (fsy_store_vv(to, &vv) != FSY_OK ||
        fsy_store_export(from, vv, s_collect, &l) != FSY_OK ||
        fsy_store_apply(to, l.v, l.n, NULL) != FSY_OK)
        s_die("sync");
    fsy_vv_free(&vv);
    for (size_t i = 0; i < l.n; i++)
        fsy_change_clear(&l.v[i]);
    free(l.v);
}

static fsy_store_t *
s_replica(const char *dir, const char *site)
{
    char path[512];
    fsy_store_t *s;
    snprintf(path, sizeof path, "%s/%s.db", dir, site);
    if (fsy_store_create(&s, path, site) != FSY_OK)
        s_die("create");
    return s;
}

/* Median ms of K loads of the document at s; *state how its body shows. */
static double
s_time_get(fsy_store_t *s, int runs, fsy_text_merge_state_t *state)
{
    double *t = calloc((size_t)runs, sizeof *t);
    for (int i = 0; i < runs; i++) {
        fsy_doc_t *d;
        double t0 = s_now_ms();
        if (fsy_store_get(s, SCOPE, DOC, &d) != FSY_OK)
            s_die("get");
        t[i] = s_now_ms() - t0;
        *state = fsy_doc_field(d, "body")->text_merge;
        fsy_doc_free(&d);
    }
    double m = s_median(t, runs);
    free(t);
    return m;
}

int
main(int argc, char **argv)
{
    size_t kb = 100, history = 200;
    int runs = 21;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--kb") == 0)
            kb = (size_t)atol(argv[i + 1]);
        else if (strcmp(argv[i], "--history") == 0)
            history = (size_t)atol(argv[i + 1]);
        else if (strcmp(argv[i], "--runs") == 0)
            runs = atoi(argv[i + 1]);
    }
    if (kb == 0 || runs <= 0) {
        fprintf(stderr,
                "usage: bench_merge [--kb N] [--history H] [--runs K]\n");
        return 2;
    }
    char dir[] = "/tmp/fsy-bench-merge-XXXXXX";
    if (mkdtemp(dir) == NULL)
        return 1;
    fsy_store_t *hq = s_replica(dir, "hq"), *site[3];
    const char *names[3] = {"bamako", "gao", "kidal"};
    size_t lines = kb * 1024 / 60;
    char *base = s_body(kb, 0, 0);
    s_put(hq, "plan", base);
    for (size_t i = 0; i < history; i++) { /* a long history to walk */
        char *v = s_body(kb, (int)(i % 2) + 4, lines / 2);
        s_put(hq, NULL, i + 1 == history ? base : v);
        free(v);
    }
    char *edit[3];
    for (int k = 0; k < 3; k++) {
        site[k] = s_replica(dir, names[k]);
        s_sync(hq, site[k]);
        edit[k] = s_body(kb, k + 1, (size_t)(k + 1) * lines / 5);
        s_put(site[k], NULL, edit[k]);
    }
    /* baseline: bamako alone; two heads at gao; three at kidal */
    fsy_text_merge_state_t st0, st2, st3;
    double one = s_time_get(site[0], runs, &st0);
    s_sync(site[0], site[1]);
    double two = s_time_get(site[1], runs, &st2);
    s_sync(site[1], site[2]);
    double three = s_time_get(site[2], runs, &st3);
    double *t = calloc((size_t)runs, sizeof *t);
    for (int i = 0; i < runs; i++) {
        char *out;
        size_t len;
        bool clean;
        double t0 = s_now_ms();
        if (fsy_text_merge3(base, strlen(base), edit[0], strlen(edit[0]),
                            edit[1], strlen(edit[1]), &clean, &out,
                            &len) != FSY_OK ||
            !clean)
            s_die("merge");
        t[i] = s_now_ms() - t0;
        free(out);
    }
    double alone = s_median(t, runs);
    printf("body %zu KB (%zu lines), history %zu versions, %d loads each\n", kb,
           lines, history + 1, runs);
    printf("load, one head (baseline)   %8.2f ms%s\n", one,
           st0 == FSY_TEXT_MERGE_NONE ? "" : "  (unexpected merge state)");
    printf("load, 2 heads merged        %8.2f ms  (%.1fx baseline)%s\n", two,
           two / one, st2 == FSY_TEXT_MERGE_CLEAN ? "" : "  (NOT merged)");
    printf("load, 3 heads merged        %8.2f ms  (%.1fx baseline)%s\n", three,
           three / one, st3 == FSY_TEXT_MERGE_CLEAN ? "" : "  (NOT merged)");
    printf("three-way merge alone       %8.2f ms\n", alone);
    free(t);
    free(base);
    for (int k = 0; k < 3; k++) {
        free(edit[k]);
        fsy_store_close(&site[k]);
    }
    fsy_store_close(&hq);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : 1;
}
