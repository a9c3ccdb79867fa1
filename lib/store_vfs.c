/*
 * fieldsync — each frame of the write-ahead log written in one system call.
 *
 * SQLite writes a log frame as two writes: its 24-byte header, then the
 * page right after it. A catch-up or an import writes hundreds of
 * thousands of frames, and a system call is dear on the virtual machines
 * sites run on (the two were a tenth of HQ's processor time in a
 * catch-up: docs/PERFORMANCE.md). This VFS sits over whichever VFS is
 * the default and, for log files only, holds a frame header back when it
 * is appended right after the write before it (the page of the frame
 * before, or the log's own header): SQLite writes such a frame's page
 * next (wal.c, walWriteOneFrame), and both then go in one write. Any
 * other write of 24 bytes goes at once: SQLite rewrites the headers of
 * frames already written (walRewriteChecksums, after a page cache spill),
 * each after reading that frame, and the last of them ends a commit that
 * no other call on this file may follow for a long time (at
 * synchronous=NORMAL, no sync); another handle or thread that syncs or
 * reads the file must never miss it. Should the page not follow, any
 * other call writes the header alone first; a failure to write it is
 * returned by that call and by the next sync.
 * Every other file is the default VFS's own, untouched.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"

/* SQLite's WAL frame header (wal.c, WAL_FRAME_HDRSIZE). */
#define S_FRAME_HDR 24

typedef struct s_file {
    sqlite3_file base; /* our methods; the real file follows this struct */
    sqlite3_file *real;
    sqlite3_int64 held_off;
    bool held; /* a frame header waits for its page */
    /* where the last write ended, if the last call was a write; else -1 */
    sqlite3_int64 wrote_to;
    int failed; /* a header written late that failed: the next sync's */
    unsigned char hdr[S_FRAME_HDR];
    unsigned char *joined; /* header + page, for one write */
    size_t joined_cap;
} s_file_t;

/* One VFS over each default met (tests put a faulty one in place). */
typedef struct s_vfs {
    sqlite3_vfs vfs; /* first: SQLite hands us &vfs */
    sqlite3_vfs *under;
    char name[32];
} s_vfs_t;

#define S_VFS_MAX 4
static s_vfs_t s_vfss[S_VFS_MAX];
static size_t s_n_vfs;
static pthread_mutex_t s_vfs_lock = PTHREAD_MUTEX_INITIALIZER;

/* The header held back, written alone. */
static int
s_flush(s_file_t *f)
{
    f->wrote_to = -1; /* a call other than a write follows */
    if (!f->held)
        return SQLITE_OK;
    f->held = false;
    int rc =
        f->real->pMethods->xWrite(f->real, f->hdr, S_FRAME_HDR, f->held_off);
    if (rc != SQLITE_OK && f->failed == SQLITE_OK)
        f->failed = rc;
    return rc;
}

/* The page after the header held: both in one write, or one after the
 * other when no buffer can be had. */
static int
s_write_joined(s_file_t *f, const void *page, int amt)
{
    size_t need = S_FRAME_HDR + (size_t)amt;
    if (need > f->joined_cap) {
        unsigned char *b = realloc(f->joined, need);
        if (b == NULL) {
            int rc = s_flush(f);
            return rc != SQLITE_OK
                       ? rc
                       : f->real->pMethods->xWrite(f->real, page, amt,
                                                   f->held_off + S_FRAME_HDR);
        }
        f->joined = b;
        f->joined_cap = need;
    }
    memcpy(f->joined, f->hdr, S_FRAME_HDR);
    memcpy(f->joined + S_FRAME_HDR, page, (size_t)amt);
    f->held = false;
    return f->real->pMethods->xWrite(f->real, f->joined, (int)need,
                                     f->held_off);
}

static int
s_write(sqlite3_file *pf, const void *buf, int amt, sqlite3_int64 off)
{
    s_file_t *f = (s_file_t *)pf;
    if (f->held && off == f->held_off + S_FRAME_HDR && amt > 0) {
        int rc = s_write_joined(f, buf, amt);
        f->wrote_to = rc == SQLITE_OK ? off + amt : -1;
        return rc;
    }
    bool appended = f->wrote_to == off;
    int rc = s_flush(f);
    if (rc != SQLITE_OK)
        return rc;
    if (amt == S_FRAME_HDR && appended) {
        memcpy(f->hdr, buf, S_FRAME_HDR);
        f->held_off = off;
        f->held = true;
        f->wrote_to = off + amt;
        return SQLITE_OK;
    }
    rc = f->real->pMethods->xWrite(f->real, buf, amt, off);
    f->wrote_to = rc == SQLITE_OK ? off + amt : -1;
    return rc;
}

static int
s_close(sqlite3_file *pf)
{
    s_file_t *f = (s_file_t *)pf;
    int rc = s_flush(f);
    int rc2 = f->real->pMethods->xClose(f->real);
    free(f->joined);
    f->joined = NULL;
    return rc != SQLITE_OK ? rc : rc2;
}

/* Every other call: the header held goes first, then the real file's. */
static s_file_t *
s_flushed(sqlite3_file *pf, int *rc)
{
    s_file_t *f = (s_file_t *)pf;
    *rc = s_flush(f);
    return f;
}

static int
s_read(sqlite3_file *pf, void *buf, int amt, sqlite3_int64 off)
{
    int rc;
    s_file_t *f = s_flushed(pf, &rc);
    return rc != SQLITE_OK ? rc
                           : f->real->pMethods->xRead(f->real, buf, amt, off);
}

static int
s_truncate(sqlite3_file *pf, sqlite3_int64 size)
{
    int rc;
    s_file_t *f = s_flushed(pf, &rc);
    return rc != SQLITE_OK ? rc : f->real->pMethods->xTruncate(f->real, size);
}

static int
s_sync(sqlite3_file *pf, int flags)
{
    int rc;
    s_file_t *f = s_flushed(pf, &rc);
    if (rc == SQLITE_OK) { /* a late write that failed where SQLite does
                              not look (a hint, a truncation) */
        rc = f->failed;
        f->failed = SQLITE_OK;
    }
    return rc != SQLITE_OK ? rc : f->real->pMethods->xSync(f->real, flags);
}

static int
s_file_size(sqlite3_file *pf, sqlite3_int64 *size)
{
    int rc;
    s_file_t *f = s_flushed(pf, &rc);
    return rc != SQLITE_OK ? rc : f->real->pMethods->xFileSize(f->real, size);
}

static int
s_lock(sqlite3_file *pf, int level)
{
    int rc;
    s_file_t *f = s_flushed(pf, &rc);
    return rc != SQLITE_OK ? rc : f->real->pMethods->xLock(f->real, level);
}

static int
s_unlock(sqlite3_file *pf, int level)
{
    int rc;
    s_file_t *f = s_flushed(pf, &rc);
    return rc != SQLITE_OK ? rc : f->real->pMethods->xUnlock(f->real, level);
}

static int
s_check_reserved(sqlite3_file *pf, int *out)
{
    int rc;
    s_file_t *f = s_flushed(pf, &rc);
    return rc != SQLITE_OK
               ? rc
               : f->real->pMethods->xCheckReservedLock(f->real, out);
}

static int
s_file_control(sqlite3_file *pf, int op, void *arg)
{
    int rc;
    s_file_t *f = s_flushed(pf, &rc);
    return rc != SQLITE_OK ? rc
                           : f->real->pMethods->xFileControl(f->real, op, arg);
}

static int
s_sector_size(sqlite3_file *pf)
{
    s_file_t *f = (s_file_t *)pf;
    return f->real->pMethods->xSectorSize(f->real);
}

static int
s_device(sqlite3_file *pf)
{
    s_file_t *f = (s_file_t *)pf;
    return f->real->pMethods->xDeviceCharacteristics(f->real);
}

/* Version 1: SQLite maps no log file into memory and keeps no shared
 * memory in it (that is the database file's, which is not ours). */
static const sqlite3_io_methods s_wal_methods = {
    .iVersion = 1,
    .xClose = s_close,
    .xRead = s_read,
    .xWrite = s_write,
    .xTruncate = s_truncate,
    .xSync = s_sync,
    .xFileSize = s_file_size,
    .xLock = s_lock,
    .xUnlock = s_unlock,
    .xCheckReservedLock = s_check_reserved,
    .xFileControl = s_file_control,
    .xSectorSize = s_sector_size,
    .xDeviceCharacteristics = s_device,
};

static int
s_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *pf, int flags,
       int *out_flags)
{
    sqlite3_vfs *under = ((s_vfs_t *)vfs)->under;
    if (!(flags & SQLITE_OPEN_WAL)) /* the real file in our place */
        return under->xOpen(under, name, pf, flags, out_flags);
    s_file_t *f = (s_file_t *)pf;
    memset(f, 0, sizeof *f);
    f->real = (sqlite3_file *)(f + 1);
    f->wrote_to = -1;
    int rc = under->xOpen(under, name, f->real, flags, out_flags);
    if (rc == SQLITE_OK && f->real->pMethods == NULL)
        rc = SQLITE_CANTOPEN;
    /* as SQLite requires: no methods, no close, when the open failed */
    f->base.pMethods = rc == SQLITE_OK ? &s_wal_methods : NULL;
    return rc;
}

const char *
fsy_sq_vfs(void)
{
    sqlite3_vfs *under = sqlite3_vfs_find(NULL);
    if (under == NULL)
        return NULL;
    const char *name = NULL;
    pthread_mutex_lock(&s_vfs_lock);
    for (size_t i = 0; i < s_n_vfs && name == NULL; i++)
        if (s_vfss[i].under == under || &s_vfss[i].vfs == under)
            name = s_vfss[i].name;
    if (name == NULL && s_n_vfs < S_VFS_MAX) {
        s_vfs_t *v = &s_vfss[s_n_vfs];
        v->under = under;
        v->vfs = *under; /* everything but opening files as it does */
        snprintf(v->name, sizeof v->name, "fieldsync-wal%zu", s_n_vfs);
        v->vfs.zName = v->name;
        v->vfs.szOsFile = (int)sizeof(s_file_t) + under->szOsFile;
        v->vfs.xOpen = s_open;
        v->vfs.pNext = NULL;
        if (sqlite3_vfs_register(&v->vfs, 0) == SQLITE_OK) {
            name = v->name;
            s_n_vfs++;
        }
    }
    pthread_mutex_unlock(&s_vfs_lock);
    return name; /* NULL: SQLite's default, as it is */
}
