/*
 * fieldsync — version vectors: for each (scope, origin), the highest seq
 * held with nothing missing below it (docs/REPLICATION.md). One home for
 * everything done with a vector: look up, raise, copy, count what one
 * holds that another lacks, and the two text forms it travels in:
 *
 *   - the status line form, one "SCOPE SITE INCARNATION SEQ" line per entry,
 *     kept in the replica's `peers` and `sites` tables;
 *   - the vv file (`fieldsync vv -o`), JSON that a courier carries to the
 *     site that exports a bundle for it (`bundle export --to-vv`):
 *
 *   {"format":"fieldsync-vv","version":1,"site":"gao",
 *    "incarnation":"0123456789abcdef",
 *    "entries":[{"scope":"MLI","site":"hq",
 *                "incarnation":"0123456789abcdef","seq":12}]}
 *
 * A vv file comes from another machine: it is parsed as hostile input
 * (bounded size, exact keys and types, checked identifiers, seq an integer
 * no larger than 2^53, the largest a JSON number carries exactly). Files
 * written by every earlier version still read (tests/fixtures/vv/).
 *
 * Ownership: a fsy_vv_t made by this module or the store is one heap
 * block for the struct and one for the entries: fsy_vv_free() frees both.
 * A vector embedded in another struct owns only `v`; functions that grow
 * one take its capacity alongside (`cap`, 0 for none yet).
 * Errors: FSY_ENOMEM, FSY_EINVAL (with a detail, fsy_errdetail()).
 */
#ifndef FIELDSYNC_VV_H
#define FIELDSYNC_VV_H

#include <stddef.h>
#include <stdint.h>

#include "fieldsync/change.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fsy_vv_entry {
    char scope[FSY_SCOPE_MAX + 1];
    fsy_origin_t origin;
    uint64_t seq; /* highest contiguous seq applied */
} fsy_vv_entry_t;

typedef struct fsy_vv {
    fsy_vv_entry_t *v;
    size_t n;
} fsy_vv_t;

/* The largest seq a vv file carries (2^53). */
#define FSY_VV_FILE_SEQ_MAX ((uint64_t)1 << 53)
/* The largest vv file read (bytes). */
#define FSY_VV_FILE_MAX ((size_t)16 << 20)

/* Frees a heap vector and its entries; accepts NULL, sets *vv to NULL. */
void fsy_vv_free(fsy_vv_t **vv);

/* The seq for (scope, origin) in vv, 0 if absent (vv may be NULL). */
uint64_t fsy_vv_get(const fsy_vv_t *vv, const char *scope,
                    const fsy_origin_t *origin);

/* The entry for (scope, origin), or NULL. Borrowed from vv. */
fsy_vv_entry_t *fsy_vv_find(fsy_vv_t *vv, const char *scope,
                            const fsy_origin_t *origin);

/* vv[(scope, origin)] := max(vv[(scope, origin)], seq), adding the entry
 * if absent. On failure vv is unchanged. */
int fsy_vv_raise(fsy_vv_t *vv, size_t *cap, const char *scope,
                 const fsy_origin_t *origin, uint64_t seq);

/* vv := src, copied whole; src's entries must be distinct (as a decoded or
 * stored vector's are: nothing is merged here). On failure vv keeps its
 * old value. */
int fsy_vv_copy(fsy_vv_t *vv, size_t *cap, const fsy_vv_t *src);

/* Changes held per `have` that the holder of `other` lacks, counting only
 * scopes in the list `scopes` ("MLI, global"; "" counts every scope). */
uint64_t fsy_vv_missing(const fsy_vv_t *have, const fsy_vv_t *other,
                        const char *scopes);

/* The status line form; *out is malloc'd, the caller frees it. */
int fsy_vv_format(const fsy_vv_t *vv, char **out);

/* Parses the status line form (hostile-safe); free *out with fsy_vv_free.
 * FSY_EINVAL on a malformed line. */
int fsy_vv_parse(const char *text, fsy_vv_t **out);

/* FSY_EINVAL (detail names the entry) if a seq of vv is beyond
 * FSY_VV_FILE_SEQ_MAX: JSON would round it into another change's number,
 * so such a vector is neither written nor shown as a vv file would be. */
int fsy_vv_file_check(const fsy_vv_t *vv);

/* The vv file of owner's vector vv, one line of JSON without a newline,
 * into *out (free() it). FSY_EINVAL as fsy_vv_file_check(). */
int fsy_vv_file_write(const fsy_origin_t *owner, const fsy_vv_t *vv,
                      char **out);

/* Parses a vv file's bytes: its owner into *owner and its vector, sorted
 * like fsy_store_vv()'s, into *out (free with fsy_vv_free). FSY_EINVAL
 * with a detail saying what is wrong; FSY_ETOOBIG over FSY_VV_FILE_MAX.
 * On error *out is NULL and *owner undefined. */
int fsy_vv_file_parse(const uint8_t *buf, size_t len, fsy_origin_t *owner,
                      fsy_vv_t **out);

#ifdef __cplusplus
}
#endif
#endif
