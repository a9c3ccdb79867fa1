/*
 * fieldsync CLI — what every subcommand shares.
 *
 * Conventions:
 *  - A subcommand is `int fsy_cmd_NAME(fsy_cli_t *, argc, argv)` with argv[0]
 *    its own name; it returns an exit status (FSY_EXIT_*).
 *  - Helpers that can fail for the user print their own one-line message on
 *    stderr and return the exit status, so a caller only propagates a
 *    non-zero result. FSY_EXIT_DONE ("stop here, success": --help was
 *    printed) is non-zero for that reason; main turns it into 0.
 *  - Data goes to stdout, messages to stderr. With --json a command prints
 *    exactly one JSON document, built completely before anything is printed.
 */
#ifndef FIELDSYNC_CLI_COMMON_H
#define FIELDSYNC_CLI_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "fieldsync/change.h"
#include "fieldsync/json_check.h"
#include "fieldsync/config.h"
#include "fieldsync/store.h"

#define FSY_EXIT_DONE (-1) /* finished early with success (help printed) */
#define FSY_EXIT_OK 0
#define FSY_EXIT_FAIL 1  /* replica, data or file problem */
#define FSY_EXIT_USAGE 2 /* bad command line */

/* Buffer sizes for rendered times, version labels and 64-bit hex. */
#define FSY_CLI_TIME_LEN 40
#define FSY_CLI_LABEL_LEN (FSY_SITE_MAX + 32)
#define FSY_CLI_HEX64_LEN 17

/* Longest value shown on one line of a table before it is cut with "…". */
#define FSY_CLI_ONELINE_MAX 60

/* One invocation: what main decided before dispatching. */
typedef struct fsy_cli {
    const char *cmd;    /* subcommand, for messages: "put", "bundle import" */
    const char *usage;  /* its usage line(s), for usage errors and --help */
    const char *db;     /* replica path */
    const char *author; /* --author, or NULL: see fsy_cli_author() */
    fsy_config_t cfg;   /* defaults, or loaded from -c CONFIG */
    char where[320];    /* how `db` was chosen, for "no replica" */
} fsy_cli_t;

typedef int (*fsy_cmd_fn)(fsy_cli_t *cli, int argc, char **argv);

/* ---- subcommands (cmd_*.c) ---------------------------------------------- */

int fsy_cmd_init(fsy_cli_t *cli, int argc, char **argv);
int fsy_cmd_put(fsy_cli_t *cli, int argc, char **argv);
int fsy_cmd_get(fsy_cli_t *cli, int argc, char **argv);
int fsy_cmd_fetch(fsy_cli_t *cli, int argc, char **argv);
int fsy_cmd_list(fsy_cli_t *cli, int argc, char **argv);
int fsy_cmd_search(fsy_cli_t *cli, int argc, char **argv);
int fsy_cmd_diff(fsy_cli_t *cli, int argc, char **argv);
int fsy_cmd_changes(fsy_cli_t *cli, int argc, char **argv);
int fsy_cmd_rm(fsy_cli_t *cli, int argc, char **argv);
int fsy_cmd_log(fsy_cli_t *cli, int argc, char **argv);
int fsy_cmd_conflicts(fsy_cli_t *cli, int argc, char **argv);
int fsy_cmd_resolve(fsy_cli_t *cli, int argc, char **argv);
int fsy_cmd_vv(fsy_cli_t *cli, int argc, char **argv);
int fsy_cmd_bundle(fsy_cli_t *cli, int argc, char **argv);
int fsy_cmd_digest(fsy_cli_t *cli, int argc, char **argv);
int fsy_cmd_verify(fsy_cli_t *cli, int argc, char **argv);
int fsy_cmd_status(fsy_cli_t *cli, int argc, char **argv);
int fsy_cmd_pending(fsy_cli_t *cli, int argc, char **argv);
int fsy_cmd_sync(fsy_cli_t *cli, int argc, char **argv);
int fsy_cmd_decommission(fsy_cli_t *cli, int argc, char **argv);
int fsy_cmd_keygen(fsy_cli_t *cli, int argc, char **argv);
int fsy_cmd_export(fsy_cli_t *cli, int argc, char **argv);
int fsy_cmd_import(fsy_cli_t *cli, int argc, char **argv);

/* Open conflicts of a document, shared by `get` and `conflicts`; s (NULL:
 * none) shows where text edits overlap. */
void fsy_cli_print_conflicts(FILE *f, fsy_store_t *s, const fsy_doc_t *d,
                             const char *indent);
cJSON *fsy_cli_json_conflicts(fsy_store_t *s, const fsy_doc_t *d);

/* ---- messages and the command line -------------------------------------- */

/* "fieldsync: CMD: <message>"; return FSY_EXIT_FAIL. */
int fsy_cli_failf(const fsy_cli_t *cli, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The library's detail for err (or fsy_strerror(err)). */
int fsy_cli_fail(const fsy_cli_t *cli, int err);
/* "<formatted context>: <library detail>". */
int fsy_cli_failerr(const fsy_cli_t *cli, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The library's detail, prefixed with "<what> PATH: " unless the detail
 * already names path (most store and bundle details do). */
int fsy_cli_failpath(const fsy_cli_t *cli, int err, const char *what,
                     const char *path);
int fsy_cli_oom(const fsy_cli_t *cli);
void fsy_cli_warnf(const fsy_cli_t *cli, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* fsy_cli_fail for a non-OK err, else FSY_EXIT_OK. */
int fsy_cli_check(const fsy_cli_t *cli, int err);

/* One-line error for a malformed argument; returns FSY_EXIT_USAGE. */
int fsy_cli_badargf(const fsy_cli_t *cli, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Error, usage line and "try 'fieldsync CMD --help'"; FSY_EXIT_USAGE. */
int fsy_cli_usagef(const fsy_cli_t *cli, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* For getopt_long's '?' and ':' results (optstring starts with ':'). */
int fsy_cli_bad_option(const fsy_cli_t *cli, int c, char **argv);
/* Prints usage and text on stdout; returns FSY_EXIT_DONE. */
int fsy_cli_help(const fsy_cli_t *cli, const char *text);

/* Makes the next getopt_long call start a fresh scan of a new argv. */
void fsy_cli_getopt_reset(void);
/* Checks exactly n operands remain after the options. */
/* Options of a command taking only --json and --help, and no operands:
 * FSY_EXIT_OK, or the exit status to return (help shown, usage error). */
int fsy_cli_json_only(fsy_cli_t *cli, int argc, char **argv, const char *help,
                      bool *json);
int fsy_cli_operands(const fsy_cli_t *cli, int argc, char **argv, int n,
                     const char *names);

/* Splits "FIELD=VALUE" for option opt; *field is malloc'd, checked with
 * fsy_check_field(field, false). *value points into arg. */
int fsy_cli_parse_assign(const fsy_cli_t *cli, const char *opt, const char *arg,
                         char **field, const char **value);

/* ---- the replica -------------------------------------------------------- */

/* Who this invocation's writes are by: --author, else [site] author, else
 * $FIELDSYNC_AUTHOR, else the login name, else "". Never NULL. */
const char *fsy_cli_author(const fsy_cli_t *cli);

/* Opens cli->db and applies the configured limits and the author. */
int fsy_cli_open(const fsy_cli_t *cli, fsy_store_t **out);

/* Largest value this invocation accepts (config, capped by protocol). */
size_t fsy_cli_value_limit(const fsy_cli_t *cli);

/*
 * Finds the scope of doc (checking it exists in `scope` when given). hint,
 * if not NULL, is appended to the "no document" message.
 */
int fsy_cli_find_doc(const fsy_cli_t *cli, fsy_store_t *s, const char *doc,
                     const char *scope, const char *hint,
                     char out[FSY_SCOPE_MAX + 1]);

/* Validates doc (and scope if given), opens the replica, finds the doc.
 * On failure nothing is left open. */
int fsy_cli_open_doc(const fsy_cli_t *cli, const char *doc, const char *scope,
                     fsy_store_t **s, char scope_out[FSY_SCOPE_MAX + 1]);

/* ---- rendering for people ----------------------------------------------- */

/* Text is well-formed UTF-8 without NUL bytes; anything else is binary. */
bool fsy_cli_is_text(const uint8_t *v, size_t n);

/* A whole value; lines after the first are indented by `indent` spaces. */
void fsy_cli_print_value(FILE *f, const uint8_t *v, size_t n, bool absent,
                         bool ref, size_t indent);
/* A value on one line, cut after `max` characters. */
void fsy_cli_print_oneline(FILE *f, const uint8_t *v, size_t n, bool absent,
                           bool ref, size_t max);
/* Text with marked passages (a search snippet): each byte 0x02 prints `on`,
 * 0x03 prints `off`; line breaks print as spaces, controls escaped. */
void fsy_cli_print_marked(FILE *f, const char *s, const char *on,
                          const char *off);
/* The winning head of a field. */
void fsy_cli_print_winner(FILE *f, const fsy_field_t *fld, size_t indent);

/* Display width (code points) of UTF-8 s; column helpers. */
size_t fsy_cli_width(const char *s);
void fsy_cli_widen(size_t *w, const char *s);
/* Prints s padded to width, plus the two-space column gap. */
void fsy_cli_pad(FILE *f, const char *s, size_t width);

/* hlc -> "2027-03-14T09:26:53Z" (ms: "...53.123Z"). Returns buf. */
const char *fsy_cli_time(uint64_t hlc, bool ms, char buf[FSY_CLI_TIME_LEN]);
const char *fsy_cli_label(const fsy_version_t *v, char buf[FSY_CLI_LABEL_LEN]);
const char *fsy_cli_hex64(uint64_t x, char buf[FSY_CLI_HEX64_LEN]);

/* ---- JSON --------------------------------------------------------------- */

/*
 * Builders return false when out of memory (or obj is NULL), so a whole
 * object is built as `ok = ok && fsy_cli_jstr(...)`. jadd/jpush take item
 * and free it if it cannot be added.
 */
bool fsy_cli_jadd(cJSON *obj, const char *key, cJSON *item);
bool fsy_cli_jpush(cJSON *arr, cJSON *item);
bool fsy_cli_jstr(cJSON *obj, const char *key, const char *val);
bool fsy_cli_jnum(cJSON *obj, const char *key, double val);
bool fsy_cli_jbool(cJSON *obj, const char *key, bool val);
bool fsy_cli_jtime(cJSON *obj, const char *key, uint64_t hlc);

/* A value: "text", {"base64": "..."} or null (absent). NULL if no memory. */
cJSON *fsy_cli_json_value(const uint8_t *v, size_t n, bool absent, bool ref);

/* Prints root (unless !ok) and frees it. Returns an exit status. */
int fsy_cli_json_print(const fsy_cli_t *cli, cJSON *root, bool ok);

/* ---- files -------------------------------------------------------------- */

/*
 * Reads all of path (at most limit bytes; refused from its size before
 * reading when it is a regular file). *out is malloc'd with a NUL after the
 * data. `what` completes "over the N-byte limit for ...".
 */
int fsy_cli_read_file(const fsy_cli_t *cli, const char *path, size_t limit,
                      const char *what, uint8_t **out, size_t *len);

/* A file written atomically: a temporary beside it, fsync, rename. */
typedef struct fsy_cli_out {
    FILE *f;
    char *tmp;
    const char *path;
} fsy_cli_out_t;

int fsy_cli_out_open(const fsy_cli_t *cli, const char *path, fsy_cli_out_t *o);
int fsy_cli_out_commit(const fsy_cli_t *cli, fsy_cli_out_t *o);
void fsy_cli_out_abort(fsy_cli_out_t *o);
/* ---- attachments (attach.c) ---------------------------------------------- */

/* An attachment reference for people: "[attachment] NAME (SIZE, TYPE,
 * HASH8)"; for scripts: {"attachment": {name, size, type, hash}}. */
void fsy_cli_print_ref(FILE *f, const uint8_t *v, size_t n);
cJSON *fsy_cli_json_ref(const uint8_t *v, size_t n);

/* The largest attachment this tool stores ([limits] max_attachment_bytes). */
uint64_t fsy_cli_attach_limit(const fsy_cli_t *cli);

/* Stores the file of `--attach FIELD=PATH` (type NULL: guessed from the
 * name) and formats its reference into ref_text[FSY_REF_TEXT_MAX + 1]. */
int fsy_cli_attach(const fsy_cli_t *cli, fsy_store_t *s, const char *path,
                   const char *type, char *ref_text, size_t *len);

/* "arriving: 3.1 of 5.0 MB" when a reference's blob is not complete here,
 * into buf[64]; NULL when it is complete (or v is not a reference). */
const char *fsy_cli_arriving(fsy_store_t *s, const uint8_t *v, size_t n,
                             char buf[64]);

/* Writes a head's value to path ("-": stdout): the bytes of text and bytes
 * values, the blob of an attachment. Refuses an absent value and an
 * attachment not complete here. */
int fsy_cli_write_head(const fsy_cli_t *cli, fsy_store_t *s, const char *field,
                       const fsy_head_t *h, const char *path);

int fsy_cli_write_file(const fsy_cli_t *cli, const char *path, const void *buf,
                       size_t len);

#endif
