/* fieldsync tests — shared helpers: temporary replicas and assertions. */
#ifndef FSY_TESTUTIL_H
#define FSY_TESTUTIL_H

#include <check.h>
#include <stdint.h>

#include "fieldsync/bundle.h"
#include "fieldsync/store.h"

/* A fresh temporary directory for this test (removed by tu_cleanup). */
const char *tu_dir(void);
void tu_cleanup(void);

/* Path inside tu_dir(); returns a static buffer rotated over 8 slots. */
const char *tu_path(const char *name);

/* Creates replica `site` in tu_dir(); fails the test on error. */
fsy_store_t *tu_replica(const char *site);

/* put with one text field; fails the test on error. */
void tu_put(fsy_store_t *s, const char *scope, const char *doc,
            const char *kind, const char *field, const char *value);

/* The shown text value of a field, its winner or its text merge ("" if
 * absent, NULL if no field). */
char *tu_get(fsy_store_t *s, const char *scope, const char *doc,
             const char *field);

/* Digest as 64 hex chars in buf. */
void tu_digest(fsy_store_t *s, char buf[65]);

/* Sends everything `to` lacks from `from`, through a real bundle file. */
void tu_sync_bundle(fsy_store_t *from, fsy_store_t *to);

/* Applies everything `to` lacks from `from`, in memory. */
void tu_sync(fsy_store_t *from, fsy_store_t *to);

/* fsy_change_cb appending a deep copy to the fsy_change_list_t ctx. */
int tu_collect(const fsy_change_t *c, void *ctx);

/* Runs a suite; EXIT_SUCCESS if every test passed. */
int tu_run(Suite *su);

/* A version built from its parts. */
/* A 19 KB report of 200 sentences, sentence k (k >= 0) replaced by
 * another; the caller frees it. */
char *tu_long_report(int k);

fsy_version_t tu_version(uint64_t hlc, const char *site, uint64_t inc,
                         uint64_t seq);

/* Number of rows in the log. */
uint64_t tu_changes(fsy_store_t *s);

/* Changes the change feed serves from the start (at most 100,000). */
size_t tu_feed_size(fsy_store_t *s);

#define ck_ok(expr)                                                            \
    do {                                                                       \
        int ck_rc_ = (expr);                                                   \
        ck_assert_msg(ck_rc_ == FSY_OK, "%s failed: %s (%s)", #expr,           \
                      fsy_strerror(ck_rc_), fsy_errdetail());                  \
    } while (0)

#endif
