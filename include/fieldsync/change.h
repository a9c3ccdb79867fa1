/*
 * fieldsync — the unit of replication: one field write (a change).
 *
 * See docs/REPLICATION.md and the design of record. A change is
 *   { origin, scope, seq, doc, field, value | absent, hlc, bases, txn_end,
 *     checksum }
 * and its version is (hlc, origin, seq). Versions are totally ordered by
 * fsy_version_cmp(). `seq` counts 1, 2, 3... per (origin, scope).
 *
 * Limits below are protocol constants: every site applies the same ones, so
 * a change accepted at one site is never refused at another.
 */
#ifndef FIELDSYNC_CHANGE_H
#define FIELDSYNC_CHANGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fieldsync/ident.h"

#ifdef __cplusplus
extern "C" {
#endif

/* identifier limits and reserved field names: fieldsync/ident.h */
#define FSY_VALUE_MAX (1u << 20) /* largest value any site accepts */
#define FSY_BASES_MAX 256        /* most heads a single write may replace */
#define FSY_TXN_MAX 1024         /* most changes in one local transaction */
#define FSY_TXN_BYTES_MAX                                                      \
    (32u << 20)             /* value bytes in one local transaction            \
                             */
#define FSY_CHECKSUM_LEN 16 /* BLAKE2b-128 of the canonical content */

/* A writer: site id plus the random incarnation drawn at `init`. */
typedef struct fsy_origin {
    char site[FSY_SITE_MAX + 1];
    uint64_t incarnation;
} fsy_origin_t;

typedef struct fsy_version {
    uint64_t hlc;
    fsy_origin_t origin;
    uint64_t seq;
} fsy_version_t;

/*
 * A change. `value` and `bases` are owned by the change and released by
 * fsy_change_clear(). `absent` true means the field was removed (value is
 * NULL and value_len 0). `ref` true means the value is an attachment
 * reference (fieldsync/attachment.h), not the field's bytes. `txn_end` marks
 * the last change of a local transaction: changes of one transaction are
 * consecutive seqs of one (origin, scope) and always travel together.
 * `author` says who wrote it ("" if not recorded): provenance, not part of
 * the change's identity or checksum, so a change relayed by a site too old
 * to carry authors arrives the same change, only without its author.
 */
typedef struct fsy_change {
    fsy_version_t version;
    char scope[FSY_SCOPE_MAX + 1];
    char doc[FSY_DOC_MAX + 1];
    char field[FSY_FIELD_MAX + 1];
    bool absent;
    bool ref;
    uint8_t *value;
    size_t value_len;
    fsy_version_t *bases;
    size_t n_bases;
    bool txn_end;
    uint8_t checksum[FSY_CHECKSUM_LEN];
    char author[FSY_AUTHOR_MAX + 1];
} fsy_change_t;

/* A growable array of changes; owns every change in it. */
typedef struct fsy_change_list {
    fsy_change_t *v;
    size_t n;
    size_t cap;
} fsy_change_list_t;

/* Total order of versions: hlc, then origin site bytes, incarnation, seq. */
int fsy_version_cmp(const fsy_version_t *a, const fsy_version_t *b);

/* Equal origins? */
bool fsy_origin_eq(const fsy_origin_t *a, const fsy_origin_t *b);

/*
 * Writes a version label "site:seq" (what people type for --keep) into buf.
 * Returns buf.
 */
char *fsy_version_label(const fsy_version_t *v, char *buf, size_t len);

/* Computes the checksum of a change's content into out. */
void fsy_change_checksum(const fsy_change_t *c, uint8_t out[FSY_CHECKSUM_LEN]);

/* Sets c->checksum from its content. */
void fsy_change_seal(fsy_change_t *c);

/* Whether c->checksum is that of its content: a stored change read back
 * to be sent on (wire format 2 and bundles carry no checksums, so a
 * change damaged on disk must be caught before it leaves). */
bool fsy_change_sound(const fsy_change_t *c);

/*
 * Validates a change from any source (wire, bundle, replica): identifiers,
 * UTF-8, sizes, reserved-field values, bases, and the checksum.
 * Returns FSY_OK, FSY_EINVAL / FSY_ETOOBIG (detail set), or FSY_ECORRUPT when
 * the checksum does not match the content.
 */
int fsy_change_validate(const fsy_change_t *c);

/* The same checks but the checksum's, for a change whose checksum did not
 * travel (wire format 2): on FSY_OK, c->checksum is set from its content. */
int fsy_change_validate_seal(fsy_change_t *c);

/* Deep copy. Returns FSY_OK or FSY_ENOMEM (dst untouched on error). */
int fsy_change_copy(fsy_change_t *dst, const fsy_change_t *src);

/* Frees what the change owns and zeroes it. Accepts NULL. */
void fsy_change_clear(fsy_change_t *c);

/*
 * Appends a zeroed change to the list and returns it through out; the caller
 * fills it in. FSY_ENOMEM on failure.
 */
int fsy_change_list_push(fsy_change_list_t *l, fsy_change_t **out);

/* Frees every change and the array; leaves an empty list. Accepts NULL. */
void fsy_change_list_clear(fsy_change_list_t *l);

/* A change callback (fieldsync/store.h's fsy_change_cb) appending a deep
 * copy of c to the fsy_change_list_t ctx. FSY_OK or FSY_ENOMEM. */
int fsy_change_list_collect(const fsy_change_t *c, void *ctx);

#ifdef __cplusplus
}
#endif
#endif
