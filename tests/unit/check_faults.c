/*
 * fieldsync — I/O fault suite (reliability scenario 6): a SQLite VFS that
 * wraps the default one and fails the Nth write or sync, for every N
 * inside the transaction that applies a batch from another site.
 *
 * For each N: the apply either succeeds (and then every change of the
 * batch is there, after a restart too) or fails leaving nothing of it (a
 * failed sync at commit may still have made it durable: then all of it);
 * the replica verifies; and applying the batch again, once the fault is
 * gone, converges on the sender's digest. That is what the daemon relies
 * on: it acknowledges a batch only after its apply returned FSY_OK, and a
 * batch that failed is refused and sent again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "testutil.h"

/* ---- the faulty VFS ---------------------------------------------------- */

typedef struct faulty_file {
    sqlite3_file base;
    sqlite3_file *real; /* allocated right after this struct */
    bool wal;
} faulty_file_t;

static sqlite3_vfs *s_real_vfs;
static sqlite3_vfs s_vfs;
static int s_armed;      /* count writes and syncs */
static int s_ops;        /* counted so far */
static int s_fail_at;    /* fail this one (1-based); 0: never */
static int s_failures;   /* how many were failed */
static int s_syncs_only; /* count syncs alone */
/* writes to log files: of a frame's header alone, and of whole frames */
static int s_wal_hdr_writes, s_wal_frame_writes;

static int
s_fault(int rc_on_fault)
{
    if (!s_armed)
        return SQLITE_OK;
    if (++s_ops == s_fail_at) {
        s_failures++;
        return rc_on_fault;
    }
    return SQLITE_OK;
}

#define REAL(f) (((faulty_file_t *)(f))->real)

static int
f_close(sqlite3_file *f)
{
    int rc = REAL(f)->pMethods->xClose(REAL(f));
    return rc;
}
static int
f_read(sqlite3_file *f, void *buf, int n, sqlite3_int64 off)
{
    return REAL(f)->pMethods->xRead(REAL(f), buf, n, off);
}
static int
f_write(sqlite3_file *f, const void *buf, int n, sqlite3_int64 off)
{
    int rc = s_syncs_only ? SQLITE_OK : s_fault(SQLITE_IOERR_WRITE);
    if (((faulty_file_t *)f)->wal) {
        s_wal_hdr_writes += n == 24;
        s_wal_frame_writes += n > 24 && (n - 24) % 512 == 0;
    }
    return rc ? rc : REAL(f)->pMethods->xWrite(REAL(f), buf, n, off);
}
static int
f_truncate(sqlite3_file *f, sqlite3_int64 size)
{
    return REAL(f)->pMethods->xTruncate(REAL(f), size);
}
static int
f_sync(sqlite3_file *f, int flags)
{
    int rc = s_fault(SQLITE_IOERR_FSYNC);
    return rc ? rc : REAL(f)->pMethods->xSync(REAL(f), flags);
}
static int
f_size(sqlite3_file *f, sqlite3_int64 *size)
{
    return REAL(f)->pMethods->xFileSize(REAL(f), size);
}
static int
f_lock(sqlite3_file *f, int l)
{
    return REAL(f)->pMethods->xLock(REAL(f), l);
}
static int
f_unlock(sqlite3_file *f, int l)
{
    return REAL(f)->pMethods->xUnlock(REAL(f), l);
}
static int
f_reserved(sqlite3_file *f, int *out)
{
    return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}
static int
f_control(sqlite3_file *f, int op, void *arg)
{
    return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}
static int
f_sector(sqlite3_file *f)
{
    return REAL(f)->pMethods->xSectorSize(REAL(f));
}
static int
f_caps(sqlite3_file *f)
{
    return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}
static int
f_shm_map(sqlite3_file *f, int pg, int sz, int ext, void volatile **pp)
{
    return REAL(f)->pMethods->xShmMap(REAL(f), pg, sz, ext, pp);
}
static int
f_shm_lock(sqlite3_file *f, int off, int n, int flags)
{
    return REAL(f)->pMethods->xShmLock(REAL(f), off, n, flags);
}
static void
f_shm_barrier(sqlite3_file *f)
{
    REAL(f)->pMethods->xShmBarrier(REAL(f));
}
static int
f_shm_unmap(sqlite3_file *f, int del)
{
    return REAL(f)->pMethods->xShmUnmap(REAL(f), del);
}

static const sqlite3_io_methods s_io = {
    .iVersion = 2,
    .xClose = f_close,
    .xRead = f_read,
    .xWrite = f_write,
    .xTruncate = f_truncate,
    .xSync = f_sync,
    .xFileSize = f_size,
    .xLock = f_lock,
    .xUnlock = f_unlock,
    .xCheckReservedLock = f_reserved,
    .xFileControl = f_control,
    .xSectorSize = f_sector,
    .xDeviceCharacteristics = f_caps,
    .xShmMap = f_shm_map,
    .xShmLock = f_shm_lock,
    .xShmBarrier = f_shm_barrier,
    .xShmUnmap = f_shm_unmap,
};

static int
v_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags,
       int *out_flags)
{
    (void)vfs;
    faulty_file_t *ff = (faulty_file_t *)f;
    ff->real = (sqlite3_file *)(ff + 1);
    ff->wal = (flags & SQLITE_OPEN_WAL) != 0;
    int rc = s_real_vfs->xOpen(s_real_vfs, name, ff->real, flags, out_flags);
    ff->base.pMethods = rc == SQLITE_OK && ff->real->pMethods ? &s_io : NULL;
    return rc;
}

static void
s_install(void)
{
    if (s_real_vfs != NULL)
        return;
    s_real_vfs = sqlite3_vfs_find(NULL);
    s_vfs = *s_real_vfs; /* everything else as the real one does it */
    s_vfs.iVersion = s_real_vfs->iVersion;
    s_vfs.szOsFile = (int)sizeof(faulty_file_t) + s_real_vfs->szOsFile;
    s_vfs.zName = "fieldsync-faulty";
    s_vfs.xOpen = v_open;
    s_vfs.pNext = NULL;
    ck_assert_int_eq(sqlite3_vfs_register(&s_vfs, 1), SQLITE_OK);
}

/* ---- the scenario ------------------------------------------------------ */

/* Copies a file if it exists (the WAL may not). */
static void
s_copy(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb");
    if (in == NULL)
        return;
    FILE *out = fopen(to, "wb");
    ck_assert_ptr_nonnull(out);
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        ck_assert_uint_eq(fwrite(buf, 1, n, out), n);
    fclose(in);
    ck_assert_int_eq(fclose(out), 0);
}

/* What a crash right now would leave: the database and its WAL as they
 * are on disk, without the clean close that checkpoints or discards. */
static void
s_crash_copy(const char *site, const char *copy)
{
    char from[64], to[64];
    snprintf(from, sizeof from, "%s.db", site);
    snprintf(to, sizeof to, "%s.db", copy);
    s_copy(tu_path(from), tu_path(to));
    snprintf(from, sizeof from, "%s.db-wal", site);
    snprintf(to, sizeof to, "%s.db-wal", copy);
    s_copy(tu_path(from), tu_path(to));
}

/* hq's whole log as one batch of three transactions. */
static void
s_batch(fsy_store_t *hq, fsy_change_list_t *l)
{
    tu_put(hq, "MLI", "isf-mli-2027", "plan", "title", "ISF Mali 2027");
    tu_put(hq, "MLI", "isf-mli-2027", "plan", "status", "draft");
    tu_put(hq, "MLI", "jmac-weekly-48", "analysis", "title", "JMAC week 48");
    ck_ok(fsy_store_export(hq, NULL, tu_collect, l));
}

static int
s_apply(fsy_store_t *s, const fsy_change_list_t *l, int fail_at)
{
    s_ops = 0;
    s_fail_at = fail_at;
    s_armed = 1;
    int rc = fsy_store_apply(s, l->v, l->n, NULL);
    s_armed = 0;
    return rc;
}

/* SQLite writes a log frame as its header, then its page: the replica's
 * VFS (store_vfs.c) makes them one write when the frame is appended right
 * after the write before it, so the VFS below sees few headers alone, and
 * the replica reads back the same. */
START_TEST(test_faults_a_log_frame_is_one_write)
{
    s_install();
    fsy_store_t *hq = tu_replica("hq");
    fsy_change_list_t batch = {0};
    s_batch(hq, &batch);
    fsy_store_t *gao = tu_replica("gao");
    s_wal_hdr_writes = s_wal_frame_writes = 0;
    ck_ok(fsy_store_apply(gao, batch.v, batch.n, NULL));
    fprintf(stderr,
            "faults: an apply wrote %d log frames whole, %d headers "
            "alone\n",
            s_wal_frame_writes, s_wal_hdr_writes);
    /* the first frame after the log's own header (and its sync), or after
     * reads of the log, is written alone */
    ck_assert_int_le(s_wal_hdr_writes, 1);
    ck_assert_int_ge(s_wal_frame_writes, 3);
    char want[65], got[65];
    tu_digest(hq, want);
    tu_digest(gao, got);
    ck_assert_str_eq(got, want);
    /* and after a crash: the log as written, read by a new handle */
    s_crash_copy("gao", "crashed");
    fsy_store_t *c = NULL;
    ck_ok(fsy_store_open(&c, tu_path("crashed.db")));
    ck_assert_uint_eq(tu_changes(c), batch.n);
    fsy_verify_report_t vr;
    ck_ok(fsy_store_verify(c, &vr));
    fsy_store_close(&c);
    fsy_change_list_clear(&batch);
    fsy_store_close(&gao);
    fsy_store_close(&hq);
}
END_TEST

/* A batch larger than SQLite's page cache spills pages into the log
 * before its commit, and the commit then rewrites the headers of frames
 * already written (wal.c, walRewriteChecksums): the last of them ends the
 * commit, and a lazy commit makes no call on the log after it. It must be
 * in the file at once (a crash now, or a sync by another thread, sees the
 * file, not what a handle holds back). */
START_TEST(test_faults_a_spilled_lazy_commit_is_whole_in_the_file)
{
    s_install();
    fsy_store_t *hq = tu_replica("hq");
    char *body = malloc(8001);
    ck_assert_ptr_nonnull(body);
    memset(body, 'x', 8000);
    body[8000] = '\0';
    for (int i = 0; i < 600; i++) {
        char id[32];
        snprintf(id, sizeof id, "jmac-gao-%03d", i);
        body[i % 8000] = (char)('a' + i % 26); /* no two alike */
        tu_put(hq, "MLI", id, "analysis", "body", body);
    }
    free(body);
    fsy_change_list_t batch = {0};
    ck_ok(fsy_store_export(hq, NULL, tu_collect, &batch));
    fsy_store_t *gao = tu_replica("gao");
    ck_ok(fsy_store_defer_checkpoints(gao, 64000));
    s_wal_hdr_writes = 0;
    ck_ok(fsy_store_apply_lazy(gao, batch.v, batch.n, NULL));
    ck_assert_uint_eq(fsy_store_lazy_commits(gao), 1);
    /* headers rewritten alone: the case this test is about did happen */
    ck_assert_int_gt(s_wal_hdr_writes, 1);
    s_crash_copy("gao", "crashed"); /* nothing since the commit */
    fsy_store_t *c = NULL;
    ck_ok(fsy_store_open(&c, tu_path("crashed.db")));
    ck_assert_uint_eq(tu_changes(c), batch.n);
    fsy_store_close(&c);
    fsy_change_list_clear(&batch);
    fsy_store_close(&gao);
    fsy_store_close(&hq);
}
END_TEST

START_TEST(test_faults_every_write_and_sync_of_an_apply_can_fail)
{
    s_install();
    fsy_store_t *hq = tu_replica("hq");
    fsy_change_list_t batch = {0};
    s_batch(hq, &batch);
    char want[65];
    tu_digest(hq, want);

    /* how many writes and syncs one apply makes */
    fsy_store_t *probe = tu_replica("probe");
    ck_ok(s_apply(probe, &batch, 0));
    int total = s_ops;
    fsy_store_close(&probe);
    ck_assert_int_gt(total, 2);

    int failed_cleanly = 0, durable_anyway = 0;
    for (int n = 1; n <= total; n++) {
        char site[16], path[48];
        snprintf(site, sizeof site, "gao%d", n);
        snprintf(path, sizeof path, "%s.db", site);
        fsy_store_t *gao = tu_replica(site);
        s_failures = 0;
        int rc = s_apply(gao, &batch, n);
        ck_assert_int_eq(s_failures, 1);
        uint64_t held = tu_changes(gao);
        /* all or nothing, and FSY_OK means all */
        ck_assert_msg(held == 0 || held == batch.n,
                      "fault %d: %llu of %zu changes held", n,
                      (unsigned long long)held, batch.n);
        if (rc == FSY_OK)
            ck_assert_uint_eq(held, batch.n);
        /* after a crash (the files as they are now) ... */
        char crash[24];
        snprintf(crash, sizeof crash, "crash%d", n);
        s_crash_copy(site, crash);
        snprintf(path, sizeof path, "%s.db", crash);
        fsy_store_t *c = NULL;
        ck_ok(fsy_store_open(&c, tu_path(path)));
        uint64_t crashed = tu_changes(c);
        ck_assert_msg(crashed == held || (rc != FSY_OK && crashed == batch.n),
                      "fault %d: %llu held, %llu after a crash", n,
                      (unsigned long long)held, (unsigned long long)crashed);
        fsy_verify_report_t cvr;
        ck_ok(fsy_store_verify(c, &cvr));
        durable_anyway += rc != FSY_OK && crashed == batch.n;
        fsy_store_close(&c);
        /* ... and after a clean restart: the same, and sound */
        snprintf(path, sizeof path, "%s.db", site);
        fsy_store_close(&gao);
        ck_ok(fsy_store_open(&gao, tu_path(path)));
        uint64_t after = tu_changes(gao);
        ck_assert_msg(after == held || (rc != FSY_OK && after == batch.n),
                      "fault %d: %llu held, %llu after a restart", n,
                      (unsigned long long)held, (unsigned long long)after);
        fsy_verify_report_t vr;
        ck_ok(fsy_store_verify(gao, &vr));
        failed_cleanly += rc != FSY_OK && after == 0;
        /* the fault is gone: the batch again converges */
        ck_ok(s_apply(gao, &batch, 0));
        char got[65];
        tu_digest(gao, got);
        ck_assert_str_eq(got, want);
        ck_assert_uint_eq(tu_changes(gao), batch.n);
        fsy_store_close(&gao);
    }
    printf("faults: %d writes and syncs in one apply; %d failed cleanly "
           "(after a clean restart); %d durable despite the error after a "
           "crash\n",
           total, failed_cleanly, durable_anyway);
    ck_assert_int_gt(failed_cleanly, 0);
    fsy_change_list_clear(&batch);
    fsy_store_close(&hq);
}
END_TEST

/* A batch committed without a disk sync whose sync then fails is never
 * promised: a later sync may succeed falsely (the kernel reports a failed
 * write-back once), so neither it nor any later commit makes the vector
 * given or the feed go past it; and no batch is committed lazily again. */
START_TEST(test_faults_a_failed_sync_leaves_lazy_commits_unpromised)
{
    s_install();
    fsy_store_t *hq = tu_replica("hq");
    fsy_change_list_t batch = {0};
    s_batch(hq, &batch);
    fsy_store_t *gao = tu_replica("gao");
    ck_ok(fsy_store_defer_checkpoints(gao, 16000));
    ck_ok(fsy_store_apply_lazy(gao, batch.v, batch.n, NULL));
    ck_assert_uint_eq(fsy_store_lazy_commits(gao), 1);
    s_ops = 0;
    s_fail_at = 1;
    s_syncs_only = s_armed = 1;
    ck_assert_int_eq(fsy_store_sync(gao), FSY_EIO);
    s_syncs_only = s_armed = 0;
    ck_assert_int_eq(s_failures, 1);
    ck_assert_int_eq(fsy_store_sync(gao), FSY_EIO); /* said again */
    tu_put(gao, "MLI", "sitrep-gao-48", "analysis", "title", "Gao week 48");
    ck_assert_uint_eq(fsy_store_lazy_commits(gao), 1);
    fsy_vv_t *given;
    ck_ok(fsy_store_durable_vv(gao, &given));
    ck_assert_uint_eq(fsy_vv_get(given, "MLI", fsy_store_origin(hq)), 0);
    ck_assert_uint_eq(fsy_vv_get(given, "MLI", fsy_store_origin(gao)), 2);
    fsy_vv_free(&given);
    ck_assert_uint_eq(tu_feed_size(gao), 0);
    /* the next batch commits with its sync, and promises nothing more */
    fsy_change_list_t more = {0};
    tu_put(hq, "MLI", "jmac-weekly-48", NULL, "status", "final");
    fsy_vv_t *had;
    ck_ok(fsy_store_vv(gao, &had));
    ck_ok(fsy_store_export(hq, had, tu_collect, &more));
    fsy_vv_free(&had);
    ck_ok(fsy_store_apply_lazy(gao, more.v, more.n, NULL));
    ck_assert_uint_eq(fsy_store_lazy_commits(gao), 1);
    ck_assert_uint_eq(fsy_store_lazy_total(gao), 1);
    ck_assert_uint_eq(tu_feed_size(gao), 0);
    fsy_change_list_clear(&more);
    fsy_change_list_clear(&batch);
    fsy_store_close(&gao);
    fsy_store_close(&hq);
}
END_TEST

/* A bundle import is one transaction whose batches are read on a worker
 * while the one before is applied (bundle.c): a write or sync that fails
 * in any batch leaves nothing of the bundle (or, a sync at the commit,
 * all of it), the read in the worker's hands is dropped, and the same
 * import once the fault is gone converges on the sender's digest. */
START_TEST(test_faults_an_import_fails_whole_whatever_batch_it_is_in)
{
    s_install();
    fsy_store_t *hq = tu_replica("hq");
    ck_ok(fsy_store_begin(hq));
    for (int i = 0; i < 1200; i++) { /* 2,400 changes: three batches */
        char id[32];
        snprintf(id, sizeof id, "jmac-gao-%04d", i);
        tu_put(hq, "MLI", id, "analysis", "title", "JMAC weekly, Gao");
    }
    ck_ok(fsy_store_commit(hq));
    ck_ok(fsy_bundle_export(hq, NULL, tu_path("all.bundle"), NULL));
    char want[65];
    tu_digest(hq, want);
    uint64_t all = tu_changes(hq);

    fsy_store_t *probe = tu_replica("probe");
    s_ops = 0;
    s_fail_at = 0;
    s_armed = 1;
    ck_ok(fsy_bundle_import(probe, tu_path("all.bundle"), NULL));
    s_armed = 0;
    int total = s_ops;
    fsy_store_close(&probe);
    ck_assert_int_gt(total, 8);

    int at[] = {1, total / 4, total / 2, 3 * total / 4, total - 1, total};
    int failed = 0;
    for (size_t k = 0; k < sizeof at / sizeof at[0]; k++) {
        char site[16], path[32];
        snprintf(site, sizeof site, "imp%zu", k);
        fsy_store_t *gao = tu_replica(site);
        s_ops = s_failures = 0;
        s_fail_at = at[k];
        s_armed = 1;
        int rc = fsy_bundle_import(gao, tu_path("all.bundle"), NULL);
        s_armed = 0;
        ck_assert_int_eq(s_failures, 1);
        uint64_t held = tu_changes(gao);
        ck_assert_msg(held == 0 || held == all,
                      "fault at %d of %d: %llu of %llu changes held", at[k],
                      total, (unsigned long long)held, (unsigned long long)all);
        if (rc == FSY_OK)
            ck_assert_uint_eq(held, all);
        else
            ck_assert_str_ne(fsy_errdetail(), "");
        failed += rc != FSY_OK && held == 0;
        snprintf(path, sizeof path, "%s.db", site);
        fsy_store_close(&gao);
        ck_ok(fsy_store_open(&gao, tu_path(path)));
        fsy_verify_report_t vr;
        ck_ok(fsy_store_verify(gao, &vr));
        ck_ok(fsy_bundle_import(gao, tu_path("all.bundle"), NULL));
        char got[65];
        tu_digest(gao, got);
        ck_assert_str_eq(got, want);
        fsy_store_close(&gao);
    }
    printf("faults: %d writes and syncs in one import of %llu changes; %d "
           "of the faults tried failed it whole\n",
           total, (unsigned long long)all, failed);
    ck_assert_int_gt(failed, 2);
    fsy_store_close(&hq);
}
END_TEST

static Suite *
s_suite(void)
{
    Suite *s = suite_create("faults");
    TCase *tc = tcase_create("faults");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_faults_a_log_frame_is_one_write);
    tcase_add_test(tc, test_faults_a_spilled_lazy_commit_is_whole_in_the_file);
    tcase_add_test(tc, test_faults_every_write_and_sync_of_an_apply_can_fail);
    tcase_add_test(tc,
                   test_faults_a_failed_sync_leaves_lazy_commits_unpromised);
    tcase_add_test(tc,
                   test_faults_an_import_fails_whole_whatever_batch_it_is_in);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return tu_run(s_suite());
}
