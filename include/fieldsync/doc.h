/*
 * fieldsync — a document as a replica sees it: each field's heads (the
 * versions no other version replaces) and the winner the merge rules pick
 * (lib/merge.c). The types merge works on, below the store that loads
 * them, so the rules depend on nothing but these and fieldsync/change.h.
 *
 * Ownership: a fsy_doc_t from the store owns its fields, their heads and
 * the heads' values; fsy_doc_free() (fieldsync/store.h) frees them all.
 */
#ifndef FIELDSYNC_DOC_H
#define FIELDSYNC_DOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fieldsync/change.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fsy_head {
    fsy_version_t version;
    bool absent;
    bool ref; /* value is an attachment reference (fieldsync/attachment.h) */
    char author[FSY_AUTHOR_MAX + 1]; /* who wrote it, "" if not recorded */
    uint8_t *value;
    size_t value_len;
    uint64_t lseq; /* its row in this replica's log; 0 for a merged value */
} fsy_head_t;

/*
 * How a field's concurrent text heads merged (lib/store_merge.c): not at
 * all (one head, equal heads, or values that are not line-structured
 * text: the winner shows), cleanly, or not, because the edits overlap or
 * the heads have no common version in the log.
 */
typedef enum fsy_text_merge_state {
    FSY_TEXT_MERGE_NONE = 0,
    FSY_TEXT_MERGE_CLEAN,
    FSY_TEXT_MERGE_OVERLAP,
    FSY_TEXT_MERGE_NO_BASE
} fsy_text_merge_state_t;

/*
 * A field: its heads (sorted by version, greatest last) and the winner.
 * When concurrent text heads merge cleanly, `merged` holds the shown value
 * (version and author of the winner, value the merge) and merge_bases the
 * common version each head after the first was merged over (n_heads - 1
 * of them); fsy_field_shown() (fieldsync/store.h) picks what to show.
 */
typedef struct fsy_field {
    char name[FSY_FIELD_MAX + 1];
    fsy_head_t *heads;
    size_t n_heads;
    size_t winner; /* index into heads: the greatest version */
    bool conflict; /* more than one head with differing values, unmerged */
    fsy_text_merge_state_t text_merge;
    fsy_head_t merged;
    fsy_version_t *merge_bases;
} fsy_field_t;

/*
 * A document as this replica sees it. `fields` holds every field that has
 * heads, reserved ones included, sorted by name. `deleted_conflict` is the
 * delete-versus-edit conflict of the design.
 */
typedef struct fsy_doc {
    char scope[FSY_SCOPE_MAX + 1];
    char id[FSY_DOC_MAX + 1];
    char kind[FSY_KIND_MAX + 1]; /* winner of _kind, "" if none */
    bool visible;
    bool deleted_conflict;
    size_t n_conflicts;   /* fields in conflict, plus 1 if deleted_conflict */
    uint64_t updated_hlc; /* greatest hlc among heads */
    fsy_field_t *fields;
    size_t n_fields;
} fsy_doc_t;

#ifdef __cplusplus
}
#endif
#endif
