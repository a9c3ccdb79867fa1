/*
 * fieldsync — search benchmark: what the full-text index costs an import,
 * and how fast HQ's analysts get answers from a large replica.
 *
 *   bench_search [--docs N] [--runs K] [--queries Q]
 *
 * 1. import: N reports (title, status, region, a ~1.6 KB body of
 *    generated prose: 4,096 made-up words, skewed, and one word in twenty
 *    from the 30 theme words analysts search for) written with
 *    fsy_store_put in transactions of 1,000 (what `fieldsync import`
 *    does), into a fresh replica, and into one
 *    whose FTS5 table was swapped for a plain table of the same columns:
 *    the same statements run, only the tokenizing and the inverted index
 *    are gone. The ratio of the two is the index's cost.
 * 2. search: Q queries of the kinds analysts type (a common word, a rare
 *    word, a phrase, a prefix, OR, and words with scope and time filters),
 *    each asking for the first 20 hits as `fieldsync search` shows them
 *    (documents loaded, snippets made); median and 99th percentile.
 *
 * Every figure is the median of K runs; the work happens in a fresh
 * directory under /tmp, removed at the end.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "fieldsync/error.h"
#include "fieldsync/query.h"
#include "fieldsync/store.h"
#include "fieldsync/wallclock.h"

#define BENCH_TXN 1000
#define BENCH_BODY 1600

static const char *const s_words[] = {
    "patrol",     "convoy",      "displacement", "cholera",   "flooding",
    "ceasefire",  "elections",   "recruitment",  "landmines", "market",
    "village",    "authorities", "partners",     "access",    "road",
    "north",      "south",       "tension",      "returnees", "shelter",
    "protection", "civilians",   "armed",        "group",     "mediation",
    "dialogue",   "harvest",     "prices",       "school",    "clinic"};
#define N_WORDS (sizeof s_words / sizeof s_words[0])
static const char *const s_scopes[] = {"MLI", "SSD", "COD"};
static const char *const s_regions[] = {"Gao",  "Menaka",  "Kidal",
                                        "Juba", "Malakal", "Goma"};

static uint64_t s_rng = 0x5eed5ea7c4u;

static uint32_t
s_rand(void)
{
    s_rng ^= s_rng >> 12;
    s_rng ^= s_rng << 25;
    s_rng ^= s_rng >> 27;
    return (uint32_t)((s_rng * 0x2545F4914F6CDD1Dull) >> 32);
}

/* The rest of the prose: 4,096 made-up words from syllables, the low
 * numbers far more common than the high (roughly as words are in reports),
 * so a query word matches some documents, not all of them. */
#define N_PROSE 4096
static const char *const s_syll[] = {"ka", "lo", "mi", "ne", "ru", "sa",
                                     "to", "vi", "da", "ge", "bo", "fu",
                                     "pa", "ze", "ho", "wi"};

static const char *
s_prose(char buf[16])
{
    uint32_t a = s_rand() % N_PROSE, b = s_rand() % N_PROSE,
             c = s_rand() % N_PROSE;
    uint32_t w = a < b ? (a < c ? a : c) : (b < c ? b : c);
    snprintf(buf, 16, "%s%s%s", s_syll[w & 15], s_syll[(w >> 4) & 15],
             s_syll[(w >> 8) & 15]);
    return buf;
}

/* A theme word (what analysts search for) one time in twenty. */
static const char *
s_word(char buf[16])
{
    return s_rand() % 20 == 0 ? s_words[s_rand() % N_WORDS] : s_prose(buf);
}

static double
s_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int
s_put(fsy_store_t *s, size_t i)
{
    char id[48], title[96], body[BENCH_BODY + 32], w1[16];
    size_t n = 0;
    snprintf(id, sizeof id, "jmac-%07zu", i);
    snprintf(title, sizeof title, "JMAC report %zu: %s and %s", i,
             s_words[s_rand() % N_WORDS], s_words[s_rand() % N_WORDS]);
    while (n < BENCH_BODY)
        n += (size_t)snprintf(body + n, sizeof body - n, "%s ", s_word(w1));
    const char *region = s_regions[s_rand() % 6];
    fsy_field_set_t sets[] = {
        {"title", (const uint8_t *)title, strlen(title), false},
        {"status", (const uint8_t *)"draft", 5, false},
        {"region", (const uint8_t *)region, strlen(region), false},
        {"body", (const uint8_t *)body, n, false}};
    return fsy_store_put(s, s_scopes[i % 3], id, "analysis", sets, 4);
}

/* Seconds to write n reports in transactions of BENCH_TXN. */
static double
s_import(fsy_store_t *s, size_t n)
{
    s_rng = 0x5eed5ea7c4u; /* the same documents every time */
    double t0 = s_now();
    for (size_t i = 0; i < n; i += BENCH_TXN) {
        if (fsy_store_begin(s) != FSY_OK)
            return -1;
        for (size_t k = i; k < n && k < i + BENCH_TXN; k++)
            if (s_put(s, k) != FSY_OK)
                return -1;
        if (fsy_store_commit(s) != FSY_OK)
            return -1;
    }
    return s_now() - t0;
}

/* The replica without the inverted index: a plain table takes the rows. */
static int
s_drop_index(const char *path)
{
    sqlite3 *db;
    int rc = sqlite3_open(path, &db);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db,
                          "DROP TABLE doc_text; CREATE TABLE doc_text("
                          "rowid INTEGER PRIMARY KEY, title, body);",
                          NULL, NULL, NULL);
    sqlite3_close(db);
    return rc == SQLITE_OK ? 0 : -1;
}

/* Removes a database and its WAL and shared-memory files. */
static void
s_rm_db(const char *path)
{
    char p[600];
    unlink(path);
    snprintf(p, sizeof p, "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", path);
    unlink(p);
}

static int
s_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double
s_pct(double *v, size_t n, double p)
{
    qsort(v, n, sizeof *v, s_cmp);
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return v[i < n ? i : n - 1];
}

static int
s_count(const fsy_hit_t *h, void *ctx)
{
    (void)h;
    ++*(size_t *)ctx;
    return 0;
}

/* Query i of the mix. */
static void
s_query(size_t i, fsy_query_t *q, char *buf, size_t len)
{
    static const char *const mli[] = {"MLI"};
    memset(q, 0, sizeof *q);
    q->limit = 20;
    switch (i % 6) {
    case 0:
        snprintf(buf, len, "%s", s_words[i % 5]);
        break;
    case 1:
        snprintf(buf, len, "%s", s_words[N_WORDS - 1 - i % 5]);
        break;
    case 2:
        snprintf(buf, len, "\"armed group\"");
        break;
    case 3:
        snprintf(buf, len, "displac*");
        break;
    case 4:
        snprintf(buf, len, "cholera OR flooding");
        break;
    default:
        snprintf(buf, len, "%s %s", s_words[i % 7],
                 s_words[N_WORDS - 1 - i % 9]);
        q->scopes = mli;
        q->n_scopes = 1;
        q->since_ms = fsy_wall_ms() - 30ull * 86400 * 1000;
    }
    q->text = buf;
}

/* Median and p99 of n queries, in ms; -1 on error. */
static int
s_searches(fsy_store_t *s, size_t n, double *med, double *p99)
{
    double *t = malloc(n * sizeof *t);
    if (t == NULL)
        return -1;
    for (size_t i = 0; i < n; i++) {
        char buf[128];
        fsy_query_t q;
        size_t hits = 0;
        s_query(i, &q, buf, sizeof buf);
        double t0 = s_now();
        if (fsy_store_query(s, &q, s_count, &hits) != FSY_OK) {
            free(t);
            return -1;
        }
        t[i] = (s_now() - t0) * 1000;
    }
    *med = s_pct(t, n, 0.5);
    *p99 = s_pct(t, n, 0.99);
    free(t);
    return 0;
}

static int
s_fail(const char *what)
{
    fprintf(stderr, "bench_search: %s: %s\n", what, fsy_errdetail());
    return 1;
}

static size_t
s_opt(int argc, char **argv, const char *name, size_t dflt)
{
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return (size_t)strtoull(argv[i + 1], NULL, 10);
    return dflt;
}

/* One run: both imports, then the searches on the indexed replica. */
static int
s_run(const char *dir, size_t docs, size_t queries, double out[4])
{
    char with[512], without[512];
    snprintf(with, sizeof with, "%s/with.db", dir);
    snprintf(without, sizeof without, "%s/without.db", dir);
    fsy_store_t *a = NULL, *b = NULL;
    if (fsy_store_create(&b, without, "hq") != FSY_OK)
        return s_fail("creating a replica");
    fsy_store_close(&b);
    if (s_drop_index(without) != 0 || fsy_store_open(&b, without) != FSY_OK)
        return s_fail("replacing the index");
    out[1] = s_import(b, docs);
    fsy_store_close(&b);
    if (fsy_store_create(&a, with, "hq") != FSY_OK)
        return s_fail("creating a replica");
    out[0] = s_import(a, docs);
    int rc = out[0] < 0 || out[1] < 0 ||
             s_searches(a, queries, &out[2], &out[3]) != 0;
    fsy_store_close(&a);
    s_rm_db(with);
    s_rm_db(without);
    return rc ? s_fail("importing or searching") : 0;
}

static double
s_median(double *v, size_t n)
{
    return s_pct(v, n, 0.5);
}

int
main(int argc, char **argv)
{
    size_t docs = s_opt(argc, argv, "--docs", 100000);
    size_t runs = s_opt(argc, argv, "--runs", 3);
    size_t queries = s_opt(argc, argv, "--queries", 600);
    if (docs == 0 || runs == 0 || runs > 16 || queries == 0) {
        fprintf(stderr, "usage: bench_search [--docs N] [--runs K (1-16)] "
                        "[--queries Q]\n");
        return 2;
    }
    char dir[] = "/tmp/bench-search-XXXXXX";
    if (mkdtemp(dir) == NULL) {
        fprintf(stderr, "bench_search: mkdtemp: %s\n", strerror(errno));
        return 1;
    }
    double with[16], without[16], ratio[16], med[16], p99[16], r[4];
    for (size_t k = 0; k < runs; k++) {
        if (s_run(dir, docs, queries, r) != 0) {
            rmdir(dir);
            return 1;
        }
        with[k] = r[0];
        without[k] = r[1];
        ratio[k] = r[0] / r[1];
        med[k] = r[2];
        p99[k] = r[3];
        printf("run %zu: import %.2f s with the index, %.2f s without; "
               "search median %.2f ms, p99 %.2f ms\n",
               k + 1, r[0], r[1], r[2], r[3]);
    }
    rmdir(dir);
    printf("%zu reports, median of %zu runs:\n", docs, runs);
    printf("  import with the index     %8.0f docs/s\n",
           (double)docs / s_median(with, runs));
    printf("  import without the index  %8.0f docs/s\n",
           (double)docs / s_median(without, runs));
    printf("  index cost (time ratio)   %8.2f x\n", s_median(ratio, runs));
    printf("  search, first 20 hits     median %.2f ms, p99 %.2f ms "
           "(%zu queries a run)\n",
           s_median(med, runs), s_median(p99, runs), queries);
    return 0;
}
