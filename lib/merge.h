/*
 * fieldsync — the merge rules (pure functions, no I/O).
 *
 * Given the heads of each field of a document, these decide the winner of
 * every field, which fields are in conflict, whether the document is
 * visible and whether it carries a delete-versus-edit conflict. They are
 * functions of the set of heads only, never of arrival order, which is
 * what makes every replica holding the same changes show the same state.
 *
 *   heads    versions no received version names as a base (store_apply.c)
 *   winner   the greatest head by fsy_version_cmp()
 *   conflict more than one head, with values that are not byte-equal
 *   visible  some user field (name not starting with '_') has a non-absent
 *            head
 *   deleted_conflict  visible while _deleted's winner is 1
 *
 * Conflicts are only open on visible documents; `_deleted` is reported
 * through deleted_conflict, never as a field conflict of its own.
 */
#ifndef FSY_MERGE_H
#define FSY_MERGE_H

#include <stdbool.h>

#include "fieldsync/change.h"
#include "fieldsync/doc.h"

/* Byte-equal values (absent equals only absent). */
bool fsy_merge_head_values_equal(const fsy_head_t *a, const fsy_head_t *b);

/* Sorts f->heads by version (greatest last), sets winner and conflict. */
void fsy_merge_field(fsy_field_t *f);

/* Merges every field of d, then sets kind, visible, deleted_conflict,
 * n_conflicts and updated_hlc. Fields must be sorted by name. */
void fsy_merge_doc(fsy_doc_t *d);

/* True if a user field name (not reserved). */
bool fsy_merge_is_user_field(const char *name);

/* Sets d->n_conflicts from its fields' conflicts and deleted_conflict. */
void fsy_merge_count_conflicts(fsy_doc_t *d);

/* Most heads a text merge folds, most bytes their values total, and the
 * longest merge it shows (one value: what an edit of it can write back);
 * beyond them a field stays an open conflict (a bound on the work of
 * every load, the same everywhere: it depends on the values only). */
#define FSY_MERGE_HEADS_MAX 32
#define FSY_MERGE_BYTES_MAX (4 * (size_t)FSY_VALUE_MAX)

/* Room for a [merge] whole_value_fields list, canonical form. */
#define FSY_WHOLE_FIELDS_MAX 512

/*
 * The canonical form of a list of field names ("status, owner" ->
 * "owner,status": sorted, each once, comma-separated) into out. FSY_EINVAL
 * (detail set) for a name that is not a user field name, or a list longer
 * than FSY_WHOLE_FIELDS_MAX.
 */
int fsy_merge_list_canon(const char *list, char out[FSY_WHOLE_FIELDS_MAX + 1]);

/* Whether `name` is in a comma-separated list of field names. */
bool fsy_merge_in_list(const char *list, const char *name);

/*
 * Whether a field's concurrent heads may be merged as text
 * (lib/store_merge.c): an open conflict of a user field not named in
 * `whole` (the [merge] whole_value_fields list), of at most
 * FSY_MERGE_HEADS_MAX heads of FSY_MERGE_BYTES_MAX bytes in all, each a
 * line-structured text value (fsy_text_mergeable), not an attachment.
 */
bool fsy_merge_text_candidate(const fsy_field_t *f, const char *whole);

#endif
