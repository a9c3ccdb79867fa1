/*
 * fieldsync — the benchmarks' finish line: waits until a replica's log
 * reaches a position, and prints when it did.
 *
 *   bench_wait_changes DB LSEQ [TIMEOUT_S]
 *
 * Polls max(lseq) every 2 ms through one read-only connection, and prints
 * the wall clock in milliseconds since the epoch (what `date +%s%3N`
 * prints) as soon as it is at least LSEQ. A shell loop that starts
 * `sqlite3` every 30-50 ms measured the moment late by up to its period
 * plus a process start (10-20 ms here), and took a share of the cores it
 * was timing. Exit 0 when reached, 1 on timeout (default 600 s), 2 on bad
 * arguments.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <sqlite3.h>

static long long
s_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The log's last position; -1 while the replica cannot be read yet (not
 * created, or busy). */
static long long
s_last(sqlite3 *db)
{
    sqlite3_stmt *st;
    long long last = -1;
    if (sqlite3_prepare_v2(db, "SELECT coalesce(max(lseq), 0) FROM changes", -1,
                           &st, NULL) != SQLITE_OK)
        return -1;
    if (sqlite3_step(st) == SQLITE_ROW)
        last = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return last;
}

int
main(int argc, char **argv)
{
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: bench_wait_changes DB LSEQ [TIMEOUT_S]\n");
        return 2;
    }
    char *end, *end_s = "";
    errno = 0;
    long long want = strtoll(argv[2], &end, 10);
    long timeout_s = argc == 4 ? strtol(argv[3], &end_s, 10) : 600;
    if (errno != 0 || end == argv[2] || *end != '\0' || *end_s != '\0' ||
        want < 1 || timeout_s < 1 || timeout_s > 86400) {
        fprintf(stderr, "bench_wait_changes: LSEQ is a log position (1 or "
                        "more), TIMEOUT_S 1 to 86400 seconds\n");
        return 2;
    }
    long long give_up = s_wall_ms() + timeout_s * 1000LL;
    sqlite3 *db = NULL;
    const struct timespec nap = {0, 2 * 1000 * 1000};
    for (;;) {
        if (db == NULL && sqlite3_open_v2(argv[1], &db, SQLITE_OPEN_READONLY,
                                          NULL) != SQLITE_OK) {
            sqlite3_close(db);
            db = NULL;
        }
        if (db != NULL && s_last(db) >= want) {
            printf("%lld\n", s_wall_ms());
            sqlite3_close(db);
            return 0;
        }
        if (s_wall_ms() > give_up) {
            fprintf(stderr,
                    "bench_wait_changes: %s did not reach %lld "
                    "in %ld s\n",
                    argv[1], want, timeout_s);
            sqlite3_close(db);
            return 1;
        }
        nanosleep(&nap, NULL);
    }
}
