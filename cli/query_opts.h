/*
 * fieldsync CLI — the filters `list`, `search` and `export` share, and the
 * CSV they can write. Parsed into a fsy_query_t (fieldsync/query.h).
 *
 * Ownership: a fsy_cli_filter_t borrows option arguments from argv and owns
 * the field names it splits off; fsy_cli_filter_free() frees them.
 */
#ifndef FIELDSYNC_CLI_QUERY_OPTS_H
#define FIELDSYNC_CLI_QUERY_OPTS_H

#include "common.h"
#include "fieldsync/query.h"

/* Option codes, clear of the commands' own (which start at 256). */
enum {
    FSY_OPT_F_SCOPE = 0x400,
    FSY_OPT_F_KIND,
    FSY_OPT_F_SITE,
    FSY_OPT_F_ANY,
    FSY_OPT_F_SINCE,
    FSY_OPT_F_UNTIL,
    FSY_OPT_F_WHERE,
    FSY_OPT_F_CONFLICTS,
    FSY_OPT_F_CSV,
    FSY_OPT_F_FIELDS,
    FSY_OPT_F_LIMIT
};

/* The getopt_long entries of the filters, for a command's option table. */
/* clang-format off */
#define FSY_CLI_FILTER_OPTIONS                                                 \
    {"scope", required_argument, NULL, FSY_OPT_F_SCOPE},                       \
    {"kind", required_argument, NULL, FSY_OPT_F_KIND},                         \
    {"site", required_argument, NULL, FSY_OPT_F_SITE},                         \
    {"any-version", no_argument, NULL, FSY_OPT_F_ANY},                         \
    {"since", required_argument, NULL, FSY_OPT_F_SINCE},                       \
    {"until", required_argument, NULL, FSY_OPT_F_UNTIL},                       \
    {"where", required_argument, NULL, FSY_OPT_F_WHERE},                       \
    {"conflicts", no_argument, NULL, FSY_OPT_F_CONFLICTS},                     \
    {"csv", no_argument, NULL, FSY_OPT_F_CSV},                                 \
    {"fields", required_argument, NULL, FSY_OPT_F_FIELDS}
/* clang-format on */

/* The filters' lines for a command's --help. */
extern const char fsy_cli_filter_help[];

typedef struct fsy_cli_filter {
    fsy_query_t q;
    const char *scopes[FSY_QUERY_LIST_MAX];
    const char *kinds[FSY_QUERY_LIST_MAX];
    fsy_query_where_t where[FSY_QUERY_LIST_MAX];
    char *where_fields[FSY_QUERY_LIST_MAX]; /* owned */
    bool csv;
    char **fields; /* CSV columns after the fixed ones, owned */
    size_t n_fields, cap_fields;
} fsy_cli_filter_t;

/*
 * Takes option c (with its argument) if it is a filter's: *taken says so.
 * Returns FSY_EXIT_OK, or FSY_EXIT_USAGE for a bad value (message shown).
 */
int fsy_cli_filter_opt(const fsy_cli_t *cli, fsy_cli_filter_t *f, int c,
                       const char *arg, bool *taken);

/* After all options: refuses contradictions (--any-version without --site,
 * --fields without --csv, --csv with --json, an empty time range).
 * FSY_EXIT_OK or FSY_EXIT_USAGE. */
int fsy_cli_filter_done(const fsy_cli_t *cli, fsy_cli_filter_t *f, bool json);

void fsy_cli_filter_free(fsy_cli_filter_t *f);

/* ---- provenance --------------------------------------------------------- */

/* "2026-11-24T16:02:11Z at gao by A. Traoré" (no "by" without author).
 * Authors and sites are checked on every path in: safe to print. */
void fsy_cli_print_stamp(FILE *f, const fsy_stamp_t *st);

/* ---- CSV (RFC 4180) ----------------------------------------------------- */

/* Adds d's field names not yet among f->fields (reserved ones excepted), in
 * order of first sight: an export's columns when --fields is not given.
 * Returns false when out of memory. */
bool fsy_cli_csv_collect(fsy_cli_filter_t *f, const fsy_doc_t *d);
/* The header row: the fixed columns, then f->fields. */
void fsy_cli_csv_header(FILE *out, const fsy_cli_filter_t *f);
/* One document's row, in the header's columns. Returns false when out of
 * memory. */
bool fsy_cli_csv_row(FILE *out, const fsy_cli_filter_t *f, const fsy_hit_t *h);

#endif
