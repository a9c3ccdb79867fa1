/* fieldsync tests — shared helpers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "fieldsync/query.h"
#include "testutil.h"

static char s_dir[512];

const char *
tu_dir(void)
{
    if (s_dir[0] == '\0') {
        const char *base = getenv("FSY_TEST_TMP");
        if (base == NULL || base[0] == '\0')
            base = "/tmp";
        mkdir(base, 0755);
        snprintf(s_dir, sizeof s_dir, "%s/fsy-XXXXXX", base);
        ck_assert_ptr_nonnull(mkdtemp(s_dir));
    }
    return s_dir;
}

void
tu_cleanup(void)
{
    if (s_dir[0] == '\0')
        return;
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", s_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", s_dir);
    s_dir[0] = '\0';
}

const char *
tu_path(const char *name)
{
    static char buf[8][600];
    static int slot;
    char *p = buf[slot++ % 8];
    snprintf(p, 600, "%s/%s", tu_dir(), name);
    return p;
}

fsy_store_t *
tu_replica(const char *site)
{
    char name[64];
    snprintf(name, sizeof name, "%s.db", site);
    fsy_store_t *s = NULL;
    ck_ok(fsy_store_create(&s, tu_path(name), site));
    return s;
}

void
tu_put(fsy_store_t *s, const char *scope, const char *doc, const char *kind,
       const char *field, const char *value)
{
    fsy_field_set_t set = {field, (const uint8_t *)value, strlen(value), false};
    ck_ok(fsy_store_put(s, scope, doc, kind, &set, 1));
}

char *
tu_get(fsy_store_t *s, const char *scope, const char *doc, const char *field)
{
    static char buf[4096];
    fsy_doc_t *d;
    if (fsy_store_get(s, scope, doc, &d) != FSY_OK)
        return NULL;
    const fsy_field_t *f = fsy_doc_field(d, field);
    char *out = NULL;
    if (f != NULL) {
        const fsy_head_t *w = fsy_field_shown(f); /* winner or merge */
        size_t n = w->absent ? 0 : w->value_len;
        if (n >= sizeof buf)
            n = sizeof buf - 1;
        if (n)
            memcpy(buf, w->value, n);
        buf[n] = '\0';
        out = buf;
    }
    fsy_doc_free(&d);
    return out;
}

void
tu_digest(fsy_store_t *s, char buf[65])
{
    uint8_t d[FSY_DIGEST_LEN];
    ck_ok(fsy_store_digest(s, NULL, d));
    sodium_bin2hex(buf, 65, d, sizeof d);
}

void
tu_sync_bundle(fsy_store_t *from, fsy_store_t *to)
{
    fsy_vv_t *vv;
    const char *path = tu_path("sync.bundle");
    ck_ok(fsy_store_vv(to, &vv));
    ck_ok(fsy_bundle_export(from, vv, path, NULL));
    fsy_vv_free(&vv);
    fsy_apply_stats_t st;
    ck_ok(fsy_bundle_import(to, path, &st));
    ck_assert_uint_eq(st.gapped, 0);
    unlink(path);
}

int
tu_collect(const fsy_change_t *c, void *ctx)
{
    fsy_change_t *slot;
    int rc = fsy_change_list_push(ctx, &slot);
    return rc ? rc : fsy_change_copy(slot, c);
}

void
tu_sync(fsy_store_t *from, fsy_store_t *to)
{
    fsy_vv_t *vv;
    fsy_change_list_t l = {0};
    ck_ok(fsy_store_vv(to, &vv));
    ck_ok(fsy_store_export(from, vv, tu_collect, &l));
    fsy_vv_free(&vv);
    fsy_apply_stats_t st;
    ck_ok(fsy_store_apply(to, l.v, l.n, &st));
    ck_assert_uint_eq(st.gapped, 0);
    fsy_change_list_clear(&l);
}

uint64_t
tu_changes(fsy_store_t *s)
{
    fsy_store_counts_t c;
    ck_ok(fsy_store_counts(s, &c));
    return c.changes;
}

static int
s_count_feed(const fsy_change_t *c, const fsy_cursor_t *at, void *ctx)
{
    (void)c;
    (void)at;
    (*(size_t *)ctx)++;
    return 0;
}

size_t
tu_feed_size(fsy_store_t *s)
{
    size_t n = 0;
    fsy_cursor_t from = {0}, next;
    ck_ok(fsy_store_feed(s, &from, 100000, s_count_feed, &n, &next));
    return n;
}

int
tu_run(Suite *su)
{
    SRunner *sr = srunner_create(su);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

fsy_version_t
tu_version(uint64_t hlc, const char *site, uint64_t inc, uint64_t seq)
{
    fsy_version_t v;
    memset(&v, 0, sizeof v);
    v.hlc = hlc;
    snprintf(v.origin.site, sizeof v.origin.site, "%s", site);
    v.origin.incarnation = inc;
    v.seq = seq;
    return v;
}

char *
tu_long_report(int k)
{
    char *r = calloc(1, 32000);
    ck_assert_ptr_nonnull(r);
    for (int i = 0; i < 200; i++)
        snprintf(r + strlen(r), 32000 - strlen(r),
                 i == k ? "Sentence %03d: the team confirmed renewed access "
                          "near the ferry of Bourem, UNPOL says. "
                        : "Sentence %03d: patrol %08x near %08x reported "
                          "%08x displaced families at %08x. ",
                 i, (unsigned)i * 2654435761u, (unsigned)i * 40503u,
                 (unsigned)i * 2246822519u, (unsigned)i * 3266489917u);
    return r;
}
