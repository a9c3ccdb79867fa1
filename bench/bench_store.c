/*
 * fieldsync — replica benchmark: local writes, bundle export and import,
 * against a raw SQLite batched-insert baseline measured in the same run.
 *
 *   bench_store [--dir DIR] [--docs N] [--changes N] [--runs K]
 *
 * What one run measures (docs/PERFORMANCE.md explains the figures):
 *
 *   1. local writes: N documents of six fields (~2 KB of text), one
 *      fsy_store_put each, first with one transaction per document, then
 *      grouped BENCH_GROUP puts per fsy_store_begin/commit;
 *   2. export: fsy_bundle_export of every change of a replica holding at
 *      least --changes changes (built once, before the runs);
 *   3. import: fsy_bundle_import of that bundle into a fresh replica;
 *   4. raw: the same rows inserted into a plain SQLite table (WAL,
 *      synchronous=FULL like the replica) in one transaction with one
 *      prepared statement: the floor any SQLite-backed import pays. A second
 *      raw table carrying the replica's two indexes on `changes` is
 *      measured as a diagnostic, to split SQLite's b-tree work from the
 *      rest of the import path.
 *
 * Every figure is reported as the median of K runs (this benchmark runs on
 * shared, noisy machines); ratios are computed within each run and their
 * median reported, so a slow run slows both sides of its own ratio.
 *
 * Work happens in a fresh mkdtemp directory (under /tmp, or under --dir),
 * removed at the end. Document text is generated deterministically before
 * any timing starts, so the clock measures fieldsync and SQLite only.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "fieldsync/bundle.h"
#include "fieldsync/error.h"
#include "fieldsync/store.h"
#include "fieldsync/version.h"

#define BENCH_FIELDS 6
/* A put that creates a document also writes _kind: one more change. */
#define BENCH_CHANGES_PER_DOC (BENCH_FIELDS + 1)
#define BENCH_GROUP 100
#define BENCH_DEFAULT_DOCS 10000
#define BENCH_DEFAULT_CHANGES 100000
#define BENCH_DEFAULT_RUNS 3
#define BENCH_MAX_RUNS 64
#define BENCH_SEED UINT64_C(0x5eed0f1e1d5f11e5)

/* ---- deterministic document text -------------------------------------- */

/* splitmix64: tiny, fast, and the same sequence on every platform. */
static uint64_t
s_rand(uint64_t *st)
{
    uint64_t z = (*st += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static unsigned
s_below(uint64_t *st, unsigned n)
{
    return (unsigned)(s_rand(st) % n);
}

#define S_COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define S_PICK(st, a) ((a)[s_below((st), (unsigned)S_COUNT(a))])

typedef struct s_theatre {
    const char *scope;
    const char *mission;
    const char *places[6];
} s_theatre_t;

static const s_theatre_t s_theatres[] = {
    {"MLI",
     "MINUSMA",
     {"Gao", "Timbuktu", "Mopti", "Menaka", "Kidal", "Ansongo"}},
    {"SSD", "UNMISS", {"Juba", "Malakal", "Bentiu", "Wau", "Bor", "Yei"}},
    {"COD", "MONUSCO", {"Goma", "Beni", "Bunia", "Bukavu", "Uvira", "Butembo"}},
    {"CAF",
     "MINUSCA",
     {"Bangui", "Bria", "Bambari", "Kaga-Bandoro", "Paoua", "Bangassou"}},
};

static const char *const s_actors[] = {"The Force",
                                       "UNPOL",
                                       "The Civil Affairs Section",
                                       "JMAC",
                                       "The Joint Operations Centre",
                                       "The Human Rights Division",
                                       "The sector headquarters",
                                       "The mission leadership team",
                                       "The Mine Action Service",
                                       "The humanitarian country team",
                                       "The engineering company",
                                       "The Political Affairs Division"};
static const char *const s_verbs[] = {"will deploy",
                                      "has reinforced",
                                      "plans to rotate",
                                      "reported on",
                                      "assessed",
                                      "is reviewing",
                                      "will escort",
                                      "has suspended",
                                      "proposes to extend",
                                      "continues to monitor",
                                      "requested funding for",
                                      "handed over"};
static const char *const s_objects[] = {
    "a quick reaction force",
    "two formed police units",
    "the temporary operating base",
    "community liaison assistants",
    "long-range patrols on the main supply route",
    "protection of civilians hotspots",
    "the early warning network",
    "the electoral materials convoy",
    "the disarmament and reintegration sites",
    "engineering support to the airstrip",
    "casualty evacuation arrangements",
    "the checkpoint at the river crossing",
    "water points for the IDP camp",
    "the joint security committee"};
static const char *const s_times[] = {"before the rainy season",
                                      "by the end of the quarter",
                                      "within 72 hours",
                                      "during the electoral period",
                                      "ahead of the transhumance season",
                                      "until further notice",
                                      "in the next reporting period",
                                      "after the mandate renewal"};
static const char *const s_groups[] = {"armed group", "self-defence militia",
                                       "criminal network", "splinter faction",
                                       "cattle raiding party"};
static const char *const s_trends[] = {"increased",
                                       "decreased",
                                       "shifted north",
                                       "remained stable",
                                       "spread to neighbouring villages",
                                       "moved closer to the main road"};
static const char *const s_units[] = {
    "personnel",         "vehicles",           "patrols",           "incidents",
    "displaced persons", "kilometres of road", "tonnes of supplies"};
static const char *const s_risks[] = {
    "Road access may be cut by flooding",
    "Host-state consent for night patrols is not yet confirmed",
    "Improvised explosive devices have been reported on the axis",
    "Local authorities contest the site selection",
    "Rotation of the infantry battalion overlaps with the operation",
    "Misinformation on social media targets the mission",
    "Medical evacuation by air depends on weather",
    "Community leaders fear reprisals after the patrol leaves"};
static const char *const s_mitigations[] = {
    "pre-position supplies at",
    "hold a community dialogue in",
    "request air assets to cover",
    "conduct route clearance towards",
    "agree a notification procedure with the governor of",
    "adjust the patrol schedule around"};
static const char *const s_statuses[] = {"draft",       "in review",
                                         "approved",    "under revision",
                                         "implemented", "superseded"};
static const char *const s_names[] = {
    "A. Diallo", "M. Keita",     "J. Moreau",   "S. Okello",
    "N. Mbeki",  "R. Lindqvist", "P. Ferreira", "K. Banda",
    "L. Nguyen", "T. Haddad",    "F. Traore",   "E. Kowalska"};
static const char *const s_sections[] = {
    "J5 Plans",        "JMAC",
    "Civil Affairs",   "JOC",
    "Human Rights",    "UNPOL Operations",
    "Mission Support", "Political Affairs"};
static const char *const s_topics[] = {
    "protection of civilians",     "election security", "convoy protection",
    "return of displaced persons", "disarmament",       "local reconciliation",
    "airfield security",           "flood response"};

/* A bounded text buffer; appends past the end are truncated. */
typedef struct s_text {
    char *p;
    size_t len, cap;
} s_text_t;

static void s_add(s_text_t *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
s_add(s_text_t *t, const char *fmt, ...)
{
    if (t->len + 1 >= t->cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        t->len += (size_t)n < t->cap - t->len ? (size_t)n : t->cap - t->len - 1;
}

/*
 * One sentence; numbers and dates keep the text from repeating verbatim.
 * Every draw is its own statement: the order in which a compiler evaluates
 * function arguments is unspecified, and the text must not depend on it.
 */
static void
s_sentence(s_text_t *t, uint64_t *st, const s_theatre_t *th)
{
    unsigned form = s_below(st, 6);
    const char *place = S_PICK(st, th->places);
    const char *a =
        form == 0 || form == 4 ? S_PICK(st, s_actors) : S_PICK(st, s_groups);
    const char *b = form == 1                ? S_PICK(st, s_trends)
                    : form == 2 || form == 3 ? S_PICK(st, s_units)
                    : form == 5              ? S_PICK(st, s_actors)
                                             : S_PICK(st, s_verbs);
    const char *c = form == 3   ? S_PICK(st, th->places)
                    : form == 5 ? S_PICK(st, s_sections)
                                : S_PICK(st, s_objects);
    const char *when = S_PICK(st, s_times);
    unsigned x = s_below(st, 10000), y = s_below(st, 10000);
    unsigned day = 1 + x % 28, month = 1 + y % 12;
    switch (form) {
    case 0:
        s_add(t, "%s %s %s in %s %s. ", a, b, c, place, when);
        break;
    case 1:
        s_add(t,
              "JMAC assesses that %s activity around %s has %s by %u%% "
              "since %02u/%02u. ",
              a, place, b, 5 + x % 80, day, month);
        break;
    case 2:
        s_add(t, "%u %s are required to support %s near %s. ", 2 + x % 400, b,
              c, place);
        break;
    case 3:
        s_add(t, "On %02u/%02u, %u %s were recorded between %s and %s. ", day,
              month, 1 + y % 60, b, place, c);
        break;
    case 4:
        s_add(t, "%s %s %s %s, in line with the %s mandate. ", a,
              S_PICK(st, s_verbs), c, when, th->mission);
        break;
    default:
        s_add(t, "Grid %c%c %04u %04u: %s reported; %s to follow up with %s. ",
              (char)('A' + x % 26), (char)('A' + y % 26), x, y, a, b, c);
        break;
    }
}

static void
s_prose(s_text_t *t, uint64_t *st, const s_theatre_t *th, size_t target)
{
    while (t->len < target && t->len + 1 < t->cap)
        s_sentence(t, st, th);
}

static void
s_risk_list(s_text_t *t, uint64_t *st, const s_theatre_t *th, size_t target)
{
    for (unsigned i = 1; t->len < target && t->len + 1 < t->cap; i++) {
        unsigned likelihood = 1 + s_below(st, 5);
        const char *risk = S_PICK(st, s_risks);
        const char *mitigation = S_PICK(st, s_mitigations);
        const char *place = S_PICK(st, th->places);
        s_add(t, "R%u (%s, likelihood %u/5): %s. Mitigation: %s %s. ", i,
              i % 2 ? "high" : "medium", likelihood, risk, mitigation, place);
    }
}

enum { F_TITLE, F_STATUS, F_SUMMARY, F_BODY, F_RISKS, F_OWNER };

static const char *const s_field_names[BENCH_FIELDS] = {
    "title", "status", "summary", "body", "risks", "owner"};
/* Capacities; the targets below stay well inside them. */
static const size_t s_field_caps[BENCH_FIELDS] = {160, 32, 512, 1536, 640, 96};

typedef struct bench_doc {
    const char *scope;
    const char *kind;
    char id[48];
    char *text[BENCH_FIELDS]; /* into one allocation, text[0] */
    size_t len[BENCH_FIELDS];
} bench_doc_t;

/* Document i: a plan or a joint analysis report of one theatre. */
static int
s_gen_doc(bench_doc_t *d, size_t i)
{
    size_t total = 0;
    for (int f = 0; f < BENCH_FIELDS; f++)
        total += s_field_caps[f];
    char *mem = malloc(total);
    if (mem == NULL)
        return -1;
    uint64_t st = BENCH_SEED ^ (UINT64_C(0x100000001b3) * (i + 1));
    const s_theatre_t *th = &s_theatres[i % S_COUNT(s_theatres)];
    bool plan = i % 3 != 2;
    d->scope = th->scope;
    d->kind = plan ? "plan" : "analysis";
    /* e.g. oplan-mli-000042, jar-caf-000011: lower-cased scope inside */
    snprintf(d->id, sizeof d->id, "%s-%c%c%c-%06zu", plan ? "oplan" : "jar",
             (char)(th->scope[0] | 0x20), (char)(th->scope[1] | 0x20),
             (char)(th->scope[2] | 0x20), i);
    s_text_t t[BENCH_FIELDS];
    for (int f = 0; f < BENCH_FIELDS; f++) {
        t[f] = (s_text_t){mem, 0, s_field_caps[f]};
        mem[0] = '\0';
        d->text[f] = mem;
        mem += s_field_caps[f];
    }
    const char *place = S_PICK(&st, th->places);
    const char *topic = S_PICK(&st, s_topics);
    unsigned serial = s_below(&st, 1000), period = s_below(&st, 52);
    unsigned year = 2026 + s_below(&st, 3);
    if (plan)
        s_add(&t[F_TITLE], "Operation plan %s-%02u-%03u: %s in %s, Q%u %u",
              th->scope, year % 100, serial, topic, place, 1 + period % 4,
              year);
    else
        s_add(&t[F_TITLE], "Joint analysis report: %s around %s, week %u/%u",
              topic, place, 1 + period, year);
    s_add(&t[F_STATUS], "%s", S_PICK(&st, s_statuses));
    const char *name = S_PICK(&st, s_names);
    const char *section = S_PICK(&st, s_sections);
    s_add(&t[F_OWNER], "%s (%s, %s HQ %s)", name, section, th->mission,
          th->places[0]);
    s_prose(&t[F_SUMMARY], &st, th, 300);
    s_prose(&t[F_BODY], &st, th, 1200);
    s_risk_list(&t[F_RISKS], &st, th, 400);
    for (int f = 0; f < BENCH_FIELDS; f++)
        d->len[f] = t[f].len;
    return 0;
}

static void
s_docs_free(bench_doc_t *docs, size_t n)
{
    for (size_t i = 0; docs != NULL && i < n; i++)
        free(docs[i].text[0]);
    free(docs);
}

static bench_doc_t *
s_docs_new(size_t n)
{
    bench_doc_t *docs = calloc(n, sizeof *docs);
    for (size_t i = 0; docs != NULL && i < n; i++)
        if (s_gen_doc(&docs[i], i) != 0) {
            s_docs_free(docs, i);
            return NULL;
        }
    return docs;
}

/* ---- helpers ---------------------------------------------------------- */

static double
s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Reports a fieldsync error once, where the benchmark gives up. */
static int
s_fail(int rc, const char *what)
{
    fprintf(stderr, "bench_store: %s: %s (%s)\n", what, fsy_strerror(rc),
            fsy_errdetail());
    return rc;
}

static int
s_sq_fail(sqlite3 *db, const char *what)
{
    fprintf(stderr, "bench_store: %s: %s\n", what,
            db ? sqlite3_errmsg(db) : "cannot open");
    return FSY_EIO;
}

static char s_dir[1024];

/* path = s_dir/name, in a buffer of PATH_LEN: room for any d_name. */
#define PATH_LEN (1024 + 1 + 256)
static void
s_path(char *out, const char *name)
{
    snprintf(out, PATH_LEN, "%s/%s", s_dir, name);
}

/* Removes a database and its WAL and shared-memory files. */
static void
s_rm_db(const char *path)
{
    char p[PATH_LEN + 8];
    unlink(path);
    snprintf(p, sizeof p, "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", path);
    unlink(p);
}

/* Removes the benchmark's own directory: flat, created by mkdtemp. */
static void
s_rm_dir(void)
{
    DIR *d = opendir(s_dir);
    if (d != NULL) {
        struct dirent *e;
        char p[PATH_LEN];
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            s_path(p, e->d_name);
            unlink(p);
        }
        closedir(d);
    }
    if (rmdir(s_dir) != 0)
        fprintf(stderr, "bench_store: cannot remove %s: %s\n", s_dir,
                strerror(errno));
}

static int
s_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double
s_median(const double *v, size_t n)
{
    double *tmp = malloc(n * sizeof *tmp);
    if (tmp == NULL)
        return v[0];
    memcpy(tmp, v, n * sizeof *tmp);
    qsort(tmp, n, sizeof *tmp, s_cmp_double);
    double m = n % 2 ? tmp[n / 2] : (tmp[n / 2 - 1] + tmp[n / 2]) / 2;
    free(tmp);
    return m;
}

/* ---- 1. local writes -------------------------------------------------- */

static int
s_put_doc(fsy_store_t *s, const bench_doc_t *d)
{
    fsy_field_set_t sets[BENCH_FIELDS];
    for (int f = 0; f < BENCH_FIELDS; f++)
        sets[f] = (fsy_field_set_t){
            s_field_names[f], (const uint8_t *)d->text[f], d->len[f], false};
    return fsy_store_put(s, d->scope, d->id, d->kind, sets, BENCH_FIELDS);
}

/*
 * Puts docs[0..n) into s: group == 1 lets every put commit on its own,
 * otherwise `group` puts share one fsy_store_begin/commit.
 */
static int
s_put_all(fsy_store_t *s, const bench_doc_t *docs, size_t n, size_t group)
{
    for (size_t i = 0; i < n; i += group) {
        size_t end = i + group < n ? i + group : n;
        int rc = group > 1 ? fsy_store_begin(s) : FSY_OK;
        for (size_t k = i; rc == FSY_OK && k < end; k++)
            rc = s_put_doc(s, &docs[k]);
        if (rc != FSY_OK) {
            if (group > 1)
                fsy_store_rollback(s);
            return s_fail(rc, "put");
        }
        if (group > 1 && (rc = fsy_store_commit(s)) != FSY_OK)
            return s_fail(rc, "commit");
    }
    return FSY_OK;
}

/* Writes docs into a fresh replica; *secs is the time of the puts only. */
static int
s_bench_writes(const char *name, const char *site, const bench_doc_t *docs,
               size_t n, size_t group, double *secs, uint64_t *changes)
{
    char path[PATH_LEN];
    s_path(path, name);
    fsy_store_t *s;
    int rc = fsy_store_create(&s, path, site);
    if (rc != FSY_OK)
        return s_fail(rc, path);
    double t0 = s_now();
    rc = s_put_all(s, docs, n, group);
    *secs = s_now() - t0;
    fsy_store_counts_t c = {0};
    if (rc == FSY_OK && (rc = fsy_store_counts(s, &c)) != FSY_OK)
        s_fail(rc, "counts");
    *changes = c.changes;
    fsy_store_close(&s);
    s_rm_db(path);
    return rc;
}

/* ---- 4. raw SQLite baseline ------------------------------------------- */

static int
s_sq_exec(sqlite3 *db, const char *sql)
{
    return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK
               ? FSY_OK
               : s_sq_fail(db, sql);
}

/*
 * The same rows as the replica's log, in a table with nothing but a rowid
 * (or, `indexed`, with the replica's UNIQUE(scope, origin, seq) and
 * (scope, doc) indexes), one transaction, one prepared statement.
 */
static int
s_bench_raw(const char *name, const fsy_change_list_t *l, bool indexed,
            double *secs)
{
    char path[PATH_LEN];
    s_path(path, name);
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int rc = FSY_OK;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                        NULL) != SQLITE_OK) {
        rc = s_sq_fail(db, path);
        goto out;
    }
    if ((rc = s_sq_exec(db, "PRAGMA journal_mode=WAL;"
                            "PRAGMA synchronous=FULL;")) != FSY_OK ||
        (rc = s_sq_exec(db, indexed
                                ? "CREATE TABLE raw(scope TEXT NOT NULL,"
                                  " origin INTEGER NOT NULL,"
                                  " seq INTEGER NOT NULL,"
                                  " hlc INTEGER NOT NULL, doc TEXT NOT NULL,"
                                  " field TEXT NOT NULL, value BLOB,"
                                  " checksum BLOB NOT NULL,"
                                  " UNIQUE(scope, origin, seq));"
                                  "CREATE INDEX raw_by_doc ON raw(scope, doc);"
                                : "CREATE TABLE raw(scope TEXT NOT NULL,"
                                  " origin INTEGER NOT NULL,"
                                  " seq INTEGER NOT NULL,"
                                  " hlc INTEGER NOT NULL, doc TEXT NOT NULL,"
                                  " field TEXT NOT NULL, value BLOB,"
                                  " checksum BLOB NOT NULL);")) != FSY_OK)
        goto out;
    double t0 = s_now();
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO raw VALUES(?1,?2,?3,?4,?5,?6,?7,"
                           "?8)",
                           -1, &st, NULL) != SQLITE_OK) {
        rc = s_sq_fail(db, "prepare");
        goto out;
    }
    if ((rc = s_sq_exec(db, "BEGIN")) != FSY_OK)
        goto out;
    for (size_t i = 0; i < l->n; i++) {
        const fsy_change_t *c = &l->v[i];
        sqlite3_bind_text(st, 1, c->scope, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, 1);
        sqlite3_bind_int64(st, 3, (int64_t)c->version.seq);
        sqlite3_bind_int64(st, 4, (int64_t)c->version.hlc);
        sqlite3_bind_text(st, 5, c->doc, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 6, c->field, -1, SQLITE_STATIC);
        if (c->absent)
            sqlite3_bind_null(st, 7);
        else
            sqlite3_bind_blob(st, 7, c->value_len ? (const void *)c->value : "",
                              (int)c->value_len, SQLITE_STATIC);
        sqlite3_bind_blob(st, 8, c->checksum, FSY_CHECKSUM_LEN, SQLITE_STATIC);
        int src = sqlite3_step(st);
        sqlite3_reset(st);
        if (src != SQLITE_DONE) {
            rc = s_sq_fail(db, "insert");
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
            goto out;
        }
    }
    if ((rc = s_sq_exec(db, "COMMIT")) != FSY_OK)
        goto out;
    *secs = s_now() - t0;
out:
    sqlite3_finalize(st);
    sqlite3_close(db);
    s_rm_db(path);
    return rc;
}

/* ---- 2. export and 3. import ------------------------------------------ */

/* The replica export reads from, filled once (grouped puts, untimed). */
static int
s_build_source(fsy_store_t **out, const char *path, const bench_doc_t *docs,
               size_t n, uint64_t *changes)
{
    fsy_store_t *s;
    int rc = fsy_store_create(&s, path, "gao");
    if (rc != FSY_OK)
        return s_fail(rc, path);
    fsy_store_counts_t c = {0};
    rc = s_put_all(s, docs, n, BENCH_GROUP);
    if (rc == FSY_OK && (rc = fsy_store_counts(s, &c)) != FSY_OK)
        s_fail(rc, "counts");
    if (rc != FSY_OK) {
        fsy_store_close(&s);
        return rc;
    }
    *changes = c.changes;
    *out = s;
    return FSY_OK;
}

static int
s_bench_import(const char *name, const char *bundle, size_t expect,
               double *secs)
{
    char path[PATH_LEN];
    s_path(path, name);
    fsy_store_t *s;
    int rc = fsy_store_create(&s, path, "hq");
    if (rc != FSY_OK)
        return s_fail(rc, path);
    fsy_apply_stats_t stats;
    double t0 = s_now();
    rc = fsy_bundle_import(s, bundle, &stats);
    *secs = s_now() - t0;
    if (rc != FSY_OK)
        s_fail(rc, "import");
    else if (stats.applied != expect) {
        fprintf(stderr, "bench_store: import applied %zu of %zu changes\n",
                stats.applied, expect);
        rc = FSY_EINTERNAL;
    }
    fsy_store_close(&s);
    s_rm_db(path);
    return rc;
}

/* ---- figures ---------------------------------------------------------- */

enum {
    FIG_W1_DOCS,
    FIG_W1_CHANGES,
    FIG_WG_DOCS,
    FIG_WG_CHANGES,
    FIG_EXPORT,
    FIG_IMPORT,
    FIG_PARSE,
    FIG_RAW,
    FIG_RAW_IDX,
    FIG_R_IMPORT_RAW,
    FIG_R_WG_RAW,
    FIG_R_W1_RAW,
    FIG__COUNT
};

static const struct {
    const char *key;   /* the machine-readable name */
    const char *label; /* the table row */
    const char *unit;
    bool ratio;
} s_figs[FIG__COUNT] = {
    [FIG_W1_DOCS] = {"write_txn1_docs_per_s", "local writes, 1 txn/doc",
                     "docs/s", false},
    [FIG_W1_CHANGES] = {"write_txn1_changes_per_s", "local writes, 1 txn/doc",
                        "changes/s", false},
    [FIG_WG_DOCS] = {"write_grouped_docs_per_s", "local writes, grouped",
                     "docs/s", false},
    [FIG_WG_CHANGES] = {"write_grouped_changes_per_s", "local writes, grouped",
                        "changes/s", false},
    [FIG_EXPORT] = {"export_changes_per_s", "bundle export --all", "changes/s",
                    false},
    [FIG_IMPORT] = {"import_changes_per_s", "bundle import (fresh replica)",
                    "changes/s", false},
    [FIG_PARSE] = {"import_read_changes_per_s", "  bundle read+decode alone",
                   "changes/s", false},
    [FIG_RAW] = {"raw_rows_per_s", "raw SQLite batched insert", "rows/s",
                 false},
    [FIG_RAW_IDX] = {"raw_indexed_rows_per_s", "  raw + the log's 2 indexes",
                     "rows/s", false},
    [FIG_R_IMPORT_RAW] = {"ratio_import_raw", "import / raw", "", true},
    [FIG_R_WG_RAW] = {"ratio_write_grouped_raw", "grouped writes / raw", "",
                      true},
    [FIG_R_W1_RAW] = {"ratio_write_txn1_raw", "1-txn writes / raw", "", true},
};

static void
s_print(double fig[FIG__COUNT][BENCH_MAX_RUNS], size_t runs)
{
    printf("\n%-32s %14s %14s %14s  %s\n", "figure", "median", "min", "max",
           "unit");
    for (int f = 0; f < FIG__COUNT; f++) {
        double lo = fig[f][0], hi = fig[f][0];
        for (size_t r = 1; r < runs; r++) {
            lo = fig[f][r] < lo ? fig[f][r] : lo;
            hi = fig[f][r] > hi ? fig[f][r] : hi;
        }
        const char *fmt = s_figs[f].ratio ? "%-32s %14.3f %14.3f %14.3f  %s\n"
                                          : "%-32s %14.0f %14.0f %14.0f  %s\n";
        printf(fmt, s_figs[f].label, s_median(fig[f], runs), lo, hi,
               s_figs[f].unit);
    }
    printf("\n");
}

/* ---- main ------------------------------------------------------------- */

static void
s_usage(FILE *f)
{
    fprintf(f,
            "usage: bench_store [--dir DIR] [--docs N] [--changes N] "
            "[--runs K]\n"
            "  --dir DIR    work in a fresh directory under DIR "
            "(default /tmp), removed at the end\n"
            "  --docs N     documents for the local-write figures "
            "(default %d)\n"
            "  --changes N  at least N changes in the exported bundle "
            "(default %d)\n"
            "  --runs K     runs; every figure is the median (default %d, "
            "at most %d)\n",
            BENCH_DEFAULT_DOCS, BENCH_DEFAULT_CHANGES, BENCH_DEFAULT_RUNS,
            BENCH_MAX_RUNS);
}

static bool
s_parse_count(const char *arg, size_t max, size_t *out)
{
    if (arg == NULL || *arg < '0' || *arg > '9')
        return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(arg, &end, 10);
    if (errno != 0 || *end != '\0' || v == 0 || v > max)
        return false;
    *out = (size_t)v;
    return true;
}

typedef struct bench_opts {
    const char *dir;
    size_t docs, changes, runs;
} bench_opts_t;

static int
s_parse_args(int argc, char **argv, bench_opts_t *o)
{
    *o = (bench_opts_t){"/tmp", BENCH_DEFAULT_DOCS, BENCH_DEFAULT_CHANGES,
                        BENCH_DEFAULT_RUNS};
    /* Every option takes one value: they come in pairs. */
    for (int i = 1; i < argc; i += 2) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool ok;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            s_usage(stdout);
            exit(0);
        } else if (strcmp(a, "--dir") == 0) {
            ok = v != NULL && *v != '\0';
            o->dir = v;
        } else if (strcmp(a, "--docs") == 0) {
            ok = s_parse_count(v, (size_t)1 << 24, &o->docs);
        } else if (strcmp(a, "--changes") == 0) {
            ok = s_parse_count(v, (size_t)1 << 27, &o->changes);
        } else if (strcmp(a, "--runs") == 0) {
            ok = s_parse_count(v, BENCH_MAX_RUNS, &o->runs);
        } else {
            ok = false;
        }
        if (!ok) {
            fprintf(stderr, "bench_store: bad argument '%s%s%s'\n", a,
                    v ? " " : "", v ? v : "");
            s_usage(stderr);
            return -1;
        }
    }
    return 0;
}

/* One run: every timed figure once. */
static int
s_run(size_t r, const bench_opts_t *o, const bench_doc_t *docs,
      const char *bundle, fsy_store_t *src, size_t n_src,
      double fig[FIG__COUNT][BENCH_MAX_RUNS])
{
    double t, t1, tg, raw;
    uint64_t ch1, chg;
    char name[64];
    int rc;

    snprintf(name, sizeof name, "write1-%zu.db", r);
    if ((rc = s_bench_writes(name, "bamako", docs, o->docs, 1, &t1, &ch1)))
        return rc;
    fig[FIG_W1_DOCS][r] = (double)o->docs / t1;
    fig[FIG_W1_CHANGES][r] = (double)ch1 / t1;

    snprintf(name, sizeof name, "writeg-%zu.db", r);
    if ((rc = s_bench_writes(name, "bamako", docs, o->docs, BENCH_GROUP, &tg,
                             &chg)))
        return rc;
    fig[FIG_WG_DOCS][r] = (double)o->docs / tg;
    fig[FIG_WG_CHANGES][r] = (double)chg / tg;

    size_t n = 0;
    t = s_now();
    rc = fsy_bundle_export(src, NULL, bundle, &n);
    t = s_now() - t;
    if (rc != FSY_OK)
        return s_fail(rc, "export");
    if (n != n_src) {
        fprintf(stderr, "bench_store: exported %zu of %zu changes\n", n, n_src);
        return FSY_EINTERNAL;
    }
    fig[FIG_EXPORT][r] = (double)n / t;

    snprintf(name, sizeof name, "import-%zu.db", r);
    if ((rc = s_bench_import(name, bundle, n, &t)))
        return rc;
    fig[FIG_IMPORT][r] = (double)n / t;

    /* The rows the raw baseline inserts are the bundle's own changes. */
    fsy_bundle_t *b = NULL;
    t = s_now();
    rc = fsy_bundle_read(bundle, &b);
    t = s_now() - t;
    if (rc != FSY_OK)
        return s_fail(rc, "read bundle");
    fig[FIG_PARSE][r] = (double)n / t;

    snprintf(name, sizeof name, "raw-%zu.db", r);
    rc = s_bench_raw(name, &b->changes, false, &raw);
    snprintf(name, sizeof name, "rawidx-%zu.db", r);
    if (rc == FSY_OK)
        rc = s_bench_raw(name, &b->changes, true, &t);
    fsy_bundle_free(&b);
    if (rc != FSY_OK)
        return rc;
    fig[FIG_RAW][r] = (double)n / raw;
    fig[FIG_RAW_IDX][r] = (double)n / t;
    fig[FIG_R_IMPORT_RAW][r] = fig[FIG_IMPORT][r] / fig[FIG_RAW][r];
    fig[FIG_R_WG_RAW][r] = fig[FIG_WG_CHANGES][r] / fig[FIG_RAW][r];
    fig[FIG_R_W1_RAW][r] = fig[FIG_W1_CHANGES][r] / fig[FIG_RAW][r];

    fprintf(stderr,
            "run %zu/%zu: import %.0f changes/s, raw %.0f rows/s, "
            "grouped writes %.0f changes/s\n",
            r + 1, o->runs, fig[FIG_IMPORT][r], fig[FIG_RAW][r],
            fig[FIG_WG_CHANGES][r]);
    return FSY_OK;
}

int
main(int argc, char **argv)
{
    bench_opts_t o;
    if (s_parse_args(argc, argv, &o) != 0)
        return 2;
    int n = snprintf(s_dir, sizeof s_dir, "%s/fsy-bench.XXXXXX", o.dir);
    if (n < 0 || (size_t)n >= sizeof s_dir || mkdtemp(s_dir) == NULL) {
        fprintf(stderr, "bench_store: cannot create a directory in %s: %s\n",
                o.dir, strerror(errno));
        return 1;
    }

    /* Enough source documents for the requested number of changes. */
    size_t src_docs =
        (o.changes + BENCH_CHANGES_PER_DOC - 1) / BENCH_CHANGES_PER_DOC;
    size_t n_docs = src_docs > o.docs ? src_docs : o.docs;
    static double fig[FIG__COUNT][BENCH_MAX_RUNS];
    fsy_store_t *src = NULL;
    char src_path[PATH_LEN], bundle[PATH_LEN];
    s_path(src_path, "source.db");
    s_path(bundle, "all.fsb");
    uint64_t src_changes = 0;
    int rc = FSY_OK;

    bench_doc_t *docs = s_docs_new(n_docs);
    if (docs == NULL) {
        fprintf(stderr, "bench_store: out of memory for %zu documents\n",
                n_docs);
        rc = FSY_ENOMEM;
        goto out;
    }
    uint64_t value_bytes = 0, src_value_bytes = 0;
    for (size_t i = 0; i < n_docs; i++)
        for (int f = 0; f < BENCH_FIELDS; f++) {
            value_bytes += i < o.docs ? docs[i].len[f] : 0;
            src_value_bytes += i < src_docs ? docs[i].len[f] : 0;
        }

    printf("fieldsync %s bench_store: SQLite %s, dir %s\n", FSY_VERSION_STRING,
           sqlite3_libversion(), s_dir);
    printf("local writes: %zu docs x %d fields, %.0f value bytes/doc, "
           "groups of %d\n",
           o.docs, BENCH_FIELDS, (double)value_bytes / (double)o.docs,
           BENCH_GROUP);

    double t = s_now();
    if ((rc = s_build_source(&src, src_path, docs, src_docs, &src_changes)))
        goto out;
    t = s_now() - t;
    printf("export source: %zu docs, %" PRIu64 " changes (built in %.1f s, "
           "grouped puts)\n",
           src_docs, src_changes, t);
    printf("runs: %zu (figures are medians)\n", o.runs);
    fflush(stdout);

    for (size_t r = 0; rc == FSY_OK && r < o.runs; r++)
        rc = s_run(r, &o, docs, bundle, src, (size_t)src_changes, fig);
    if (rc != FSY_OK)
        goto out;

    struct stat sb;
    if (stat(bundle, &sb) != 0) {
        fprintf(stderr, "bench_store: %s: %s\n", bundle, strerror(errno));
        rc = FSY_EIO;
        goto out;
    }
    s_print(fig, o.runs);
    printf("bundle: %" PRIu64 " changes, %lld bytes for %" PRIu64
           " value bytes (%.3f of the values)\n\n",
           src_changes, (long long)sb.st_size, src_value_bytes,
           (double)sb.st_size / (double)src_value_bytes);

    for (int f = 0; f < FIG__COUNT; f++)
        printf(s_figs[f].ratio ? "bench %s %.3f\n" : "bench %s %.0f\n",
               s_figs[f].key, s_median(fig[f], o.runs));
    printf("bench bundle_changes %" PRIu64 "\n", src_changes);
    printf("bench bundle_bytes %lld\n", (long long)sb.st_size);
    printf("bench bundle_value_bytes %" PRIu64 "\n", src_value_bytes);
    printf("bench bundle_bytes_per_value_byte %.3f\n",
           (double)sb.st_size / (double)src_value_bytes);
out:
    fsy_store_close(&src);
    s_docs_free(docs, n_docs);
    s_rm_dir();
    return rc == FSY_OK ? 0 : 1;
}
