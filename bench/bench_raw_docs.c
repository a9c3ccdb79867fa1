/*
 * fieldsync — the raw SQLite baseline for document throughput: each line
 * of an NDJSON file (one document) inserted as one row of a plain table,
 * BATCH rows a transaction, WAL and synchronous=FULL like a replica, one
 * prepared statement. What any SQLite-backed store of the same documents
 * pays at least; bench/bench_catchup.sh compares fieldsync's catch-up and
 * import with it, measured in the same run.
 *
 *   bench_raw_docs FILE.ndjson DB [BATCH [PAGE_SIZE]]
 *
 * BATCH defaults to 1000; PAGE_SIZE to SQLite's own (4096), and is given
 * the replica's so that both store the same bytes in pages of one size.
 *
 * Prints "raw_docs_per_s N" and "raw_ms N" on stdout. The file is read
 * into memory before the clock starts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

static double
s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The whole file, NUL-terminated; NULL on error. */
static char *
s_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    char *buf = NULL;
    size_t cap = 0, n = 0, got;
    do {
        if (n + 65536 + 1 > cap) {
            cap = (n + 65536 + 1) * 2;
            char *b = realloc(buf, cap);
            if (b == NULL) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = b;
        }
        got = fread(buf + n, 1, 65536, f);
        n += got;
    } while (got > 0);
    fclose(f);
    buf[n] = '\0';
    *len = n;
    return buf;
}

static int
s_exec(sqlite3 *db, const char *sql)
{
    char *err = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &err) == SQLITE_OK)
        return 0;
    fprintf(stderr, "bench_raw_docs: %s: %s\n", sql, err ? err : "?");
    sqlite3_free(err);
    return 1;
}

/* Inserts every line; returns the number of rows, or -1. */
static long
s_insert(sqlite3 *db, char *text, long batch)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "INSERT INTO docs(id, doc) VALUES(?1, ?2)", -1,
                           &st, NULL) != SQLITE_OK)
        return -1;
    long rows = 0;
    char *line = text, *nl;
    if (s_exec(db, "BEGIN"))
        return -1;
    for (; *line != '\0'; line = nl + 1) {
        nl = strchr(line, '\n');
        if (nl == NULL)
            nl = line + strlen(line) - 1;
        if (nl == line)
            continue;
        /* the row's key: the line's number, as a document id would be */
        sqlite3_bind_int64(st, 1, rows);
        sqlite3_bind_text(st, 2, line, (int)(nl - line), SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE)
            return -1;
        sqlite3_reset(st);
        if (++rows % batch == 0 &&
            (s_exec(db, "COMMIT") || s_exec(db, "BEGIN")))
            return -1;
    }
    sqlite3_finalize(st);
    return s_exec(db, "COMMIT") ? -1 : rows;
}

int
main(int argc, char **argv)
{
    if (argc < 3 || argc > 5) {
        fprintf(stderr,
                "usage: bench_raw_docs FILE.ndjson DB [BATCH [PAGE_SIZE]]\n");
        return 2;
    }
    long batch = argc >= 4 ? strtol(argv[3], NULL, 10) : 1000;
    long page = argc == 5 ? strtol(argv[4], NULL, 10) : 4096;
    char pragma[64];
    snprintf(pragma, sizeof pragma, "PRAGMA page_size=%ld;", page);
    size_t len;
    char *text = s_slurp(argv[1], &len);
    sqlite3 *db = NULL;
    if (text == NULL || batch < 1 || page < 512 || page > 65536 ||
        sqlite3_open(argv[2], &db) != SQLITE_OK || s_exec(db, pragma) ||
        s_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                   "CREATE TABLE docs(id INTEGER PRIMARY KEY, doc TEXT)")) {
        fprintf(stderr, "bench_raw_docs: cannot set up %s with %s\n", argv[2],
                argv[1]);
        return 1;
    }
    double t0 = s_now();
    long rows = s_insert(db, text, batch);
    double t1 = s_now();
    sqlite3_close(db);
    free(text);
    if (rows <= 0)
        return fprintf(stderr, "bench_raw_docs: insert failed\n"), 1;
    printf("raw_docs_per_s %.0f\nraw_ms %.0f\n", (double)rows / (t1 - t0),
           (t1 - t0) * 1e3);
    return 0;
}
