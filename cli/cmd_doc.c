/*
 * fieldsync CLI — documents: init, put, get, list, rm, log.
 */
#include "common.h"
#include "query_opts.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "fieldsync/attachment.h"
#include "fieldsync/doc_json.h"
#include "fieldsync/error.h"
#include "fieldsync/ident.h"

/* Option values above the printable range: long options without a short
 * form. */
enum {
    OPT_SITE = 256,
    OPT_KIND,
    OPT_SCOPE,
    OPT_SET,
    OPT_FILE,
    OPT_DELETED,
    OPT_JSON,
    OPT_ATTACH,
    OPT_TYPE,
    OPT_FIELD,
    OPT_URGENT,
    OPT_FULL
};

/* ---- init --------------------------------------------------------------- */

static const char s_init_usage[] = "fieldsync init --site SITE_ID [--json]";
static const char s_init_help[] =
    "Creates an empty replica for this site at the --db path (else the\n"
    "configuration's [site] db, else ./fieldsync.db: 'fieldsync help'),\n"
    "with a fresh random incarnation. SITE_ID is 1-32 characters of\n"
    "a-z 0-9 _ -, starting with a letter. Without --site, [site] id from\n"
    "the configuration is used.\n"
    "\n"
    "  --site SITE_ID   this site's id, e.g. hq, bamako, gao\n"
    "  --json           print path, site and incarnation as JSON\n"
    "\n"
    "Example:\n"
    "  fieldsync --db gao.db init --site gao\n";

static int
s_init_print(const fsy_cli_t *cli, const fsy_origin_t *o, bool json)
{
    char inc[FSY_CLI_HEX64_LEN];
    cJSON *root;
    bool ok;

    fsy_cli_hex64(o->incarnation, inc);
    if (json) {
        root = cJSON_CreateObject();
        ok = fsy_cli_jstr(root, "path", cli->db) &&
             fsy_cli_jstr(root, "site", o->site) &&
             fsy_cli_jstr(root, "incarnation", inc);
        return fsy_cli_json_print(cli, root, ok);
    }
    printf("created replica %s\n", cli->db);
    printf("  site         %s\n", o->site);
    printf("  incarnation  %s\n", inc);
    return FSY_EXIT_OK;
}

static int
s_init_create(const fsy_cli_t *cli, const char *site, bool json)
{
    fsy_store_t *s = NULL;
    int err, rc;

    fsy_err_clear();
    err = fsy_store_create(&s, cli->db, site);
    if (err == FSY_EEXIST)
        return fsy_cli_failf(cli,
                             "%s already exists: a site's replica is "
                             "created only once",
                             cli->db);
    if (err != FSY_OK)
        return fsy_cli_failpath(cli, err, "cannot create replica", cli->db);
    rc = s_init_print(cli, fsy_store_origin(s), json);
    fsy_store_close(&s);
    return rc;
}

int
fsy_cmd_init(fsy_cli_t *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"site", required_argument, NULL, OPT_SITE},
        {"json", no_argument, NULL, OPT_JSON},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *site = cli->cfg.site_id[0] != '\0' ? cli->cfg.site_id : NULL;
    bool json = false;
    int c, rc;

    cli->usage = s_init_usage;
    fsy_cli_getopt_reset();
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if (c == OPT_SITE)
            site = optarg;
        else if (c == OPT_JSON)
            json = true;
        else if (c == 'h')
            return fsy_cli_help(cli, s_init_help);
        else
            return fsy_cli_bad_option(cli, c, argv);
    }
    if ((rc = fsy_cli_operands(cli, argc, argv, 0, "no operands")) != 0)
        return rc;
    if (site == NULL)
        return fsy_cli_usagef(cli, "missing --site SITE_ID");
    if ((rc = fsy_cli_check(cli, fsy_check_site(site))) != 0)
        return rc;
    return s_init_create(cli, site, json);
}

/* ---- put ---------------------------------------------------------------- */

static const char s_put_usage[] =
    "fieldsync put DOC [--kind K] [--scope S] --set FIELD=VALUE ... "
    "[--file FIELD=PATH ...]\n"
    "       [--attach FIELD=PATH ... [--type TYPE]] [--urgent]";
static const char s_put_help[] =
    "Creates document DOC, or updates some of its fields, in one\n"
    "transaction. Creating needs --scope and --kind. For an existing\n"
    "document --scope may be left out when DOC exists in one scope only,\n"
    "and --kind must be left out or match.\n"
    "\n"
    "  --set FIELD=VALUE  set FIELD to the UTF-8 text VALUE (repeatable)\n"
    "  --file FIELD=PATH  set FIELD to the bytes of file PATH (repeatable;\n"
    "                     at most [limits] max_value_bytes, 1 MiB by "
    "default)\n"
    "  --attach FIELD=PATH  attach file PATH as FIELD (repeatable; at most\n"
    "                     [limits] max_attachment_bytes, 256 MiB by "
    "default):\n"
    "                     kept once by content, the field holds its name,\n"
    "                     size, type and hash\n"
    "  --type TYPE        media type of the attachments (default: from the\n"
    "                     file name, e.g. application/pdf for .pdf)\n"
    "  --kind K           kind of a new document: plan, analysis, ...\n"
    "  --scope S          scope of the document, e.g. a mission code\n"
    "  --urgent           send this write ahead of every change waiting to\n"
    "                     go (a flash report); attachments never hold it\n"
    "                     up in any case\n"
    "\n"
    "Field names starting with '_' are reserved.\n"
    "\n"
    "Examples:\n"
    "  fieldsync put isf-mli-2027 --kind plan --scope MLI \\\n"
    "      --set title=\"Integrated Strategic Framework 2027\" "
    "--set status=draft\n"
    "  fieldsync put isf-mli-2027 --set status=review "
    "--file body=isf-mli-2027.md\n"
    "  fieldsync put jmac-monthly-11 --attach annex=gao-region-map.pdf\n"
    "  fieldsync put flash-0412 --kind analysis --scope MLI --urgent \\\n"
    "      --set title=\"Flash: road Gao-Ansongo closed at km 42\"\n";

typedef struct s_put {
    const char *doc;
    const char *kind;
    const char *scope;
    const char **set_args; /* --set operands, in order */
    size_t n_set_args;
    const char **file_args; /* --file operands, in order */
    size_t n_file_args;
    const char **attach_args; /* --attach operands, in order */
    size_t n_attach_args;
    const char *type;      /* --type */
    bool urgent;           /* --urgent */
    fsy_field_set_t *sets; /* what is written; names and bufs own memory */
    char **names;
    uint8_t **bufs; /* file contents (NULL for --set values) */
    size_t n;
} s_put_t;

/* Every array is sized by argc, an upper bound on the options given. */
static bool
s_put_alloc(s_put_t *p, int argc)
{
    size_t n = (size_t)argc;

    memset(p, 0, sizeof *p);
    p->set_args = calloc(n, sizeof *p->set_args);
    p->file_args = calloc(n, sizeof *p->file_args);
    p->attach_args = calloc(n, sizeof *p->attach_args);
    p->sets = calloc(n, sizeof *p->sets);
    p->names = calloc(n, sizeof *p->names);
    p->bufs = calloc(n, sizeof *p->bufs);
    return p->set_args && p->file_args && p->attach_args && p->sets &&
           p->names && p->bufs;
}

static void
s_put_free(s_put_t *p)
{
    size_t i;

    for (i = 0; i < p->n; i++) {
        free(p->names[i]);
        free(p->bufs[i]);
    }
    free(p->set_args);
    free(p->file_args);
    free(p->attach_args);
    free(p->sets);
    free(p->names);
    free(p->bufs);
}

static int
s_put_options(fsy_cli_t *cli, s_put_t *p, int argc, char **argv)
{
    static const struct option opts[] = {
        {"kind", required_argument, NULL, OPT_KIND},
        {"scope", required_argument, NULL, OPT_SCOPE},
        {"set", required_argument, NULL, OPT_SET},
        {"file", required_argument, NULL, OPT_FILE},
        {"attach", required_argument, NULL, OPT_ATTACH},
        {"type", required_argument, NULL, OPT_TYPE},
        {"urgent", no_argument, NULL, OPT_URGENT},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int c;

    fsy_cli_getopt_reset();
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if (c == OPT_URGENT)
            p->urgent = true;
        else if (c == OPT_KIND)
            p->kind = optarg;
        else if (c == OPT_SCOPE)
            p->scope = optarg;
        else if (c == OPT_SET)
            p->set_args[p->n_set_args++] = optarg;
        else if (c == OPT_FILE)
            p->file_args[p->n_file_args++] = optarg;
        else if (c == OPT_ATTACH)
            p->attach_args[p->n_attach_args++] = optarg;
        else if (c == OPT_TYPE)
            p->type = optarg;
        else if (c == 'h')
            return fsy_cli_help(cli, s_put_help);
        else
            return fsy_cli_bad_option(cli, c, argv);
    }
    return fsy_cli_operands(cli, argc, argv, 1, "DOC");
}

static int
s_put_check(const fsy_cli_t *cli, const s_put_t *p)
{
    int rc = fsy_cli_check(cli, fsy_check_doc_id(p->doc));

    if (rc == 0 && p->scope != NULL)
        rc = fsy_cli_check(cli, fsy_check_scope(p->scope));
    if (rc == 0 && p->kind != NULL)
        rc = fsy_cli_check(cli, fsy_check_kind(p->kind));
    if (rc == 0 && p->n_set_args + p->n_file_args + p->n_attach_args == 0)
        rc = fsy_cli_usagef(cli, "nothing to write: give --set FIELD=VALUE, "
                                 "--file FIELD=PATH or --attach FIELD=PATH");
    if (rc == 0 && p->type != NULL && p->n_attach_args == 0)
        rc = fsy_cli_usagef(cli, "--type is the media type of attachments: "
                                 "give --attach FIELD=PATH too");
    if (rc == 0 && p->type != NULL)
        rc = fsy_cli_check(cli, fsy_ref_check_type(p->type));
    return rc;
}

/* Records one field (taking name and buf); a repeated name is refused. */
static int
s_put_add(const fsy_cli_t *cli, s_put_t *p, char *name, const uint8_t *v,
          size_t len, uint8_t *buf)
{
    size_t i, k = p->n++;

    p->names[k] = name;
    p->bufs[k] = buf;
    p->sets[k].field = name;
    p->sets[k].value = v;
    p->sets[k].len = len;
    for (i = 0; i < k; i++)
        if (strcmp(p->names[i], name) == 0)
            return fsy_cli_badargf(cli, "field '%s' is given twice", name);
    return FSY_EXIT_OK;
}

static int
s_put_add_set(const fsy_cli_t *cli, s_put_t *p, const char *arg)
{
    size_t limit = fsy_cli_value_limit(cli), len;
    const char *value;
    char *name;
    int rc = fsy_cli_parse_assign(cli, "--set", arg, &name, &value);

    if (rc != 0) {
        free(name);
        return rc;
    }
    len = strlen(value);
    if (!fsy_utf8_valid((const uint8_t *)value, len))
        rc = fsy_cli_failf(cli,
                           "value of field '%s' is not valid UTF-8 "
                           "text: use --file %s=PATH for other bytes",
                           name, name);
    else if (len > limit)
        rc = fsy_cli_failf(cli,
                           "value of field '%s' is %zu bytes, over the "
                           "%zu-byte limit ([limits] max_value_bytes)",
                           name, len, limit);
    if (rc != 0) {
        free(name);
        return rc;
    }
    return s_put_add(cli, p, name, (const uint8_t *)value, len, NULL);
}

/* OPT FIELD=PATH: *name malloc'd (also on error: free it), *path borrowed. */
static int
s_path_assign(const fsy_cli_t *cli, const char *opt, const char *arg,
              char **name, const char **path)
{
    int rc = fsy_cli_parse_assign(cli, opt, arg, name, path);

    if (rc == 0 && (*path)[0] == '\0')
        rc = fsy_cli_badargf(cli, "%s '%.60s': empty path", opt, arg);
    return rc;
}

static int
s_put_add_file(const fsy_cli_t *cli, s_put_t *p, const char *arg)
{
    const char *path;
    char *name;
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = s_path_assign(cli, "--file", arg, &name, &path);

    if (rc == 0)
        rc = fsy_cli_read_file(cli, path, fsy_cli_value_limit(cli),
                               "a value ([limits] max_value_bytes): "
                               "attach larger files with --attach",
                               &buf, &len);
    if (rc != 0) {
        free(name);
        return rc;
    }
    return s_put_add(cli, p, name, buf, len, buf);
}

/* Stores an attachment (before the write: a blob no write refers to is
 * harmless, a reference without its blob is not). */
static int
s_put_add_attach(const fsy_cli_t *cli, s_put_t *p, fsy_store_t *s,
                 const char *arg)
{
    const char *path;
    char *name;
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = s_path_assign(cli, "--attach", arg, &name, &path);

    if (rc == 0 && (buf = malloc(FSY_REF_TEXT_MAX + 1)) == NULL)
        rc = fsy_cli_oom(cli);
    if (rc == 0)
        rc = fsy_cli_attach(cli, s, path, p->type, (char *)buf, &len);
    if (rc != 0) {
        free(name);
        free(buf);
        return rc;
    }
    rc = s_put_add(cli, p, name, buf, len, buf);
    p->sets[p->n - 1].ref = true;
    return rc;
}

static int
s_put_collect(const fsy_cli_t *cli, s_put_t *p)
{
    size_t i;
    int rc = FSY_EXIT_OK;

    for (i = 0; rc == 0 && i < p->n_set_args; i++)
        rc = s_put_add_set(cli, p, p->set_args[i]);
    for (i = 0; rc == 0 && i < p->n_file_args; i++)
        rc = s_put_add_file(cli, p, p->file_args[i]);
    return rc;
}

static int
s_put_write(const fsy_cli_t *cli, s_put_t *p)
{
    char scope[FSY_SCOPE_MAX + 1];
    fsy_store_t *s = NULL;
    int rc = fsy_cli_open(cli, &s);

    if (rc == 0 && p->scope != NULL)
        snprintf(scope, sizeof scope, "%s", p->scope);
    else if (rc == 0)
        rc = fsy_cli_find_doc(cli, s, p->doc, NULL,
                              "to create it, give --scope S and --kind K",
                              scope);
    for (size_t i = 0; rc == 0 && i < p->n_attach_args; i++)
        rc = s_put_add_attach(cli, p, s, p->attach_args[i]);
    if (rc == 0) {
        fsy_err_clear();
        fsy_store_set_urgent(s, p->urgent);
        rc = fsy_cli_check(
            cli, fsy_store_put(s, scope, p->doc, p->kind, p->sets, p->n));
    }
    if (rc == 0)
        printf("saved %s in %s (%zu field%s%s)\n", p->doc, scope, p->n,
               p->n == 1 ? "" : "s", p->urgent ? ", urgent" : "");
    fsy_store_close(&s);
    return rc;
}

int
fsy_cmd_put(fsy_cli_t *cli, int argc, char **argv)
{
    s_put_t p;
    int rc;

    cli->usage = s_put_usage;
    if (!s_put_alloc(&p, argc)) {
        s_put_free(&p);
        return fsy_cli_oom(cli);
    }
    rc = s_put_options(cli, &p, argc, argv);
    if (rc == 0) {
        p.doc = argv[optind];
        rc = s_put_check(cli, &p);
    }
    if (rc == 0)
        rc = s_put_collect(cli, &p);
    if (rc == 0)
        rc = s_put_write(cli, &p);
    s_put_free(&p);
    return rc;
}

/* ---- options shared by get, rm and log ---------------------------------- */

typedef struct s_docopts {
    const char *doc;
    const char *scope;
    bool deleted;
    bool json;
    const char *field; /* get --field */
    const char *out;   /* get -o */
    bool full;         /* log --full */
} s_docopts_t;

/* Whether a command's option table has the option of value val. */
static bool
s_offers(const struct option *opts, int val)
{
    for (; opts->name != NULL; opts++)
        if (opts->val == val)
            return true;
    return false;
}

/* Parses DOC [--scope S], plus --deleted, --json, --field and -o where
 * opts offers them. */
static int
s_docopts(fsy_cli_t *cli, int argc, char **argv, const char *help,
          const struct option *opts, s_docopts_t *o)
{
    int c, rc;

    memset(o, 0, sizeof *o);
    fsy_cli_getopt_reset();
    while ((c = getopt_long(argc, argv, ":ho:", opts, NULL)) != -1) {
        if (c == OPT_SCOPE)
            o->scope = optarg;
        else if (c == OPT_DELETED)
            o->deleted = true;
        else if (c == OPT_FIELD)
            o->field = optarg;
        else if (c == 'o' && s_offers(opts, 'o'))
            o->out = optarg;
        else if (c == OPT_JSON)
            o->json = true;
        else if (c == OPT_FULL)
            o->full = true;
        else if (c == 'h')
            return fsy_cli_help(cli, help);
        else
            return fsy_cli_bad_option(cli, c, argv);
    }
    if ((rc = fsy_cli_operands(cli, argc, argv, 1, "DOC")) != 0)
        return rc;
    o->doc = argv[optind];
    return FSY_EXIT_OK;
}

/* ---- get ---------------------------------------------------------------- */

static const char s_get_usage[] =
    "fieldsync get DOC [--scope S] [--deleted] [--json]\n"
    "       fieldsync get DOC [--scope S] --field FIELD [-o FILE]";
static const char s_get_help[] =
    "Shows document DOC: its fields with their current values, then every\n"
    "open conflict with each competing version. '*' marks the version\n"
    "everyone sees until the conflict is resolved. Concurrent edits of a\n"
    "text field that touch different lines are merged (the field says so);\n"
    "edits that overlap are a conflict showing only where they overlap.\n"
    "\n"
    "  --scope S   needed only when DOC exists in several scopes\n"
    "  --deleted   show a deleted document instead of refusing\n"
    "  --json      print the document as JSON\n"
    "  --field FIELD  write FIELD's value (text, bytes or the attachment\n"
    "              itself) to FILE, or to standard output\n"
    "  -o, --output FILE  with --field: the file to write (written whole or\n"
    "              not at all)\n"
    "\n"
    "An attachment shows as its name, size, type and hash; one that has not\n"
    "fully arrived yet says how much is here.\n"
    "\n"
    "Examples:\n"
    "  fieldsync get isf-mli-2027\n"
    "  fieldsync get jmac-monthly-11 --field annex -o gao-region-map.pdf\n";

static void
s_get_header(const fsy_doc_t *d)
{
    char t[FSY_CLI_TIME_LEN];

    printf("%s: %s in %s, updated %s%s\n", d->id,
           d->kind[0] != '\0' ? d->kind : "document", d->scope,
           fsy_cli_time(d->updated_hlc, false, t),
           d->visible ? "" : " (DELETED)");
}

/* "  (arriving: 3.1 of 5.0 MB)" after an attachment not complete here. */
static void
s_print_arriving(fsy_store_t *s, const fsy_field_t *f)
{
    const fsy_head_t *h = fsy_field_shown(f);
    char buf[64];
    const char *arriving =
        h->ref ? fsy_cli_arriving(s, h->value, h->value_len, buf) : NULL;
    if (arriving != NULL)
        printf("  (%s)", arriving);
}

/* Whether what was written here of d is at HQ (store_delivery.c); NULL
 * at the root, or when it cannot be read. */
static const char *
s_delivery_text(fsy_store_t *s, const fsy_doc_t *d, fsy_pending_t *p, char *buf,
                size_t len)
{
    if (fsy_store_pending_doc(s, d->scope, d->id, p) != FSY_OK || p->is_root)
        return NULL;
    if (p->changes == 0)
        snprintf(buf, len, "at HQ (every change written here)");
    else if (p->changes_not_at_parent > 0)
        snprintf(buf, len,
                 "not yet at HQ: %" PRIu64 " change(s) written here, %" PRIu64
                 " not even at the parent",
                 p->changes, p->changes_not_at_parent);
    else
        snprintf(buf, len,
                 "not yet at HQ: %" PRIu64 " change(s) written here are at "
                 "the parent",
                 p->changes);
    return buf;
}

/* "created ... at bamako by A. Traoré; updated ... at gao by M. Diallo". */
static void
s_get_stamps(fsy_store_t *s, const fsy_doc_t *d)
{
    fsy_stamp_t c, u;
    if (fsy_store_stamps(s, d->scope, d->id, &c, &u) != FSY_OK)
        return; /* the header said when; provenance is extra */
    fputs("created ", stdout);
    fsy_cli_print_stamp(stdout, &c);
    fputs("; last version ", stdout);
    fsy_cli_print_stamp(stdout, &u);
    fputc('\n', stdout);
}

/* Under a merged field: which edits its value combines. */
static void
s_print_merged(const fsy_field_t *f, size_t indent)
{
    if (f->text_merge == FSY_TEXT_MERGE_CLEAN) {
        char note[FSY_MERGE_NOTE_LEN];
        printf("%*s(%s: concurrent edits to different lines)\n", (int)indent,
               "", fsy_field_merge_note(f, note, sizeof note));
    }
}

static void
s_get_text(fsy_store_t *s, const fsy_doc_t *d)
{
    size_t i, w = 0, shown = 0;

    s_get_header(d);
    s_get_stamps(s, d);
    for (i = 0; i < d->n_fields; i++)
        if (d->fields[i].name[0] != '_')
            fsy_cli_widen(&w, d->fields[i].name);
    for (i = 0; i < d->n_fields; i++) {
        if (d->fields[i].name[0] == '_')
            continue;
        fputs("  ", stdout);
        fsy_cli_pad(stdout, d->fields[i].name, w);
        fsy_cli_print_winner(stdout, &d->fields[i], w + 4);
        s_print_arriving(s, &d->fields[i]);
        fputc('\n', stdout);
        s_print_merged(&d->fields[i], w + 4);
        shown++;
    }
    if (shown == 0)
        puts("  (no fields)");
    char where[160];
    fsy_pending_t p;
    if (s_delivery_text(s, d, &p, where, sizeof where) != NULL)
        printf("delivery: %s\n", where);
    if (d->n_conflicts > 0) {
        printf("\n%zu open conflict%s:\n", d->n_conflicts,
               d->n_conflicts == 1 ? "" : "s");
        fsy_cli_print_conflicts(stdout, s, d, "  ");
    }
}

static cJSON *
s_fields_json(const fsy_doc_t *d)
{
    cJSON *obj = cJSON_CreateObject();
    const fsy_head_t *h;
    bool ok = obj != NULL;
    size_t i;

    for (i = 0; ok && i < d->n_fields; i++) {
        if (d->fields[i].name[0] == '_')
            continue;
        h = fsy_field_shown(&d->fields[i]);
        ok = fsy_cli_jadd(
            obj, d->fields[i].name,
            fsy_cli_json_value(h->value, h->value_len, h->absent, h->ref));
    }
    if (!ok)
        cJSON_Delete(obj);
    return ok ? obj : NULL;
}

/* "delivery": {"at_hq", "changes_not_at_hq", "changes_not_at_parent",
 * "text"}, or null at the root. */
static cJSON *
s_delivery_json(fsy_store_t *s, const fsy_doc_t *d)
{
    char where[160];
    fsy_pending_t p;
    if (s_delivery_text(s, d, &p, where, sizeof where) == NULL)
        return cJSON_CreateNull();
    cJSON *o = cJSON_CreateObject();
    bool ok = fsy_cli_jbool(o, "at_hq", p.changes == 0) &&
              fsy_cli_jnum(o, "changes_not_at_hq", (double)p.changes) &&
              fsy_cli_jnum(o, "changes_not_at_parent",
                           (double)p.changes_not_at_parent) &&
              fsy_cli_jstr(o, "text", where);
    if (!ok)
        cJSON_Delete(o);
    return ok ? o : NULL;
}

static int
s_get_json(const fsy_cli_t *cli, fsy_store_t *s, const fsy_doc_t *d)
{
    cJSON *root = cJSON_CreateObject();
    fsy_stamp_t c = {0}, u = {.hlc = d->updated_hlc};
    fsy_err_clear();
    int err = fsy_store_stamps(s, d->scope, d->id, &c, &u);
    if (err != FSY_OK && err != FSY_ENOTFOUND) {
        cJSON_Delete(root);
        return fsy_cli_fail(cli, err);
    }
    bool ok = fsy_cli_jstr(root, "scope", d->scope) &&
              fsy_cli_jstr(root, "id", d->id) &&
              fsy_cli_jstr(root, "kind", d->kind) &&
              fsy_cli_jbool(root, "visible", d->visible) &&
              fsy_stamps_json(root, &c, &u) &&
              fsy_cli_jadd(root, "fields", s_fields_json(d)) &&
              fsy_cli_jadd(root, "merged", fsy_merges_json(d)) &&
              fsy_cli_jadd(root, "conflicts", fsy_cli_json_conflicts(s, d)) &&
              fsy_cli_jadd(root, "delivery", s_delivery_json(s, d));

    return fsy_cli_json_print(cli, root, ok);
}

static int
s_get_field(const fsy_cli_t *cli, fsy_store_t *s, const fsy_doc_t *d,
            const s_docopts_t *o)
{
    const fsy_field_t *f = fsy_doc_field(d, o->field);

    if (f == NULL || o->field[0] == '_')
        return fsy_cli_failf(cli, "%s has no field '%s'", d->id, o->field);
    if (f->conflict)
        fsy_cli_warnf(cli,
                      "field %s is in conflict: writing the version "
                      "everyone sees (fieldsync conflicts %s)",
                      o->field, d->id);
    return fsy_cli_write_head(cli, s, o->field, fsy_field_shown(f),
                              o->out != NULL ? o->out : "-");
}

static int
s_get_show(const fsy_cli_t *cli, fsy_store_t *s, const char *scope,
           const s_docopts_t *o)
{
    fsy_doc_t *d = NULL;
    int rc;

    fsy_err_clear();
    if ((rc = fsy_cli_check(cli, fsy_store_get(s, scope, o->doc, &d))) != 0)
        return rc;
    if (!d->visible && !o->deleted)
        rc = fsy_cli_failf(cli,
                           "document %s was deleted (in scope %s; "
                           "--deleted shows it anyway)",
                           o->doc, scope);
    else if (o->field != NULL)
        rc = s_get_field(cli, s, d, o);
    else if (o->json)
        rc = s_get_json(cli, s, d);
    else
        s_get_text(s, d);
    fsy_doc_free(&d);
    return rc;
}

int
fsy_cmd_get(fsy_cli_t *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"scope", required_argument, NULL, OPT_SCOPE},
        {"deleted", no_argument, NULL, OPT_DELETED},
        {"json", no_argument, NULL, OPT_JSON},
        {"field", required_argument, NULL, OPT_FIELD},
        {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    char scope[FSY_SCOPE_MAX + 1];
    fsy_store_t *s = NULL;
    s_docopts_t o;
    int rc;

    cli->usage = s_get_usage;
    rc = s_docopts(cli, argc, argv, s_get_help, opts, &o);
    if (rc == 0 && o.out != NULL && o.field == NULL)
        rc = fsy_cli_usagef(cli, "-o FILE writes one field: give --field "
                                 "FIELD too");
    if (rc == 0 && o.field != NULL && o.json)
        rc = fsy_cli_usagef(cli, "--field writes the value itself: leave "
                                 "out --json");
    if (rc == 0)
        rc = fsy_cli_open_doc(cli, o.doc, o.scope, &s, scope);
    if (rc == 0)
        rc = s_get_show(cli, s, scope, &o);
    fsy_store_close(&s);
    return rc;
}

/* ---- rm ----------------------------------------------------------------- */

static const char s_rm_usage[] = "fieldsync rm DOC [--scope S]";
static const char s_rm_help[] =
    "Deletes document DOC. The delete is a replicated write like any\n"
    "other: it reaches every site, and the document's history stays in\n"
    "the log. Writing to the document again re-creates it.\n"
    "\n"
    "  --scope S   needed only when DOC exists in several scopes\n"
    "\n"
    "Example:\n"
    "  fieldsync rm risk-gao-2026-q3 --scope MLI\n";

int
fsy_cmd_rm(fsy_cli_t *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"scope", required_argument, NULL, OPT_SCOPE},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    char scope[FSY_SCOPE_MAX + 1];
    fsy_store_t *s = NULL;
    s_docopts_t o;
    int rc, err = FSY_OK;

    cli->usage = s_rm_usage;
    rc = s_docopts(cli, argc, argv, s_rm_help, opts, &o);
    if (rc == 0)
        rc = fsy_cli_open_doc(cli, o.doc, o.scope, &s, scope);
    if (rc == 0) {
        fsy_err_clear();
        err = fsy_store_delete(s, scope, o.doc);
    }
    if (rc == 0 && err == FSY_ENOTFOUND)
        rc = fsy_cli_failf(cli, "document %s in scope %s is already deleted",
                           o.doc, scope);
    else if (rc == 0 && err != FSY_OK)
        rc = fsy_cli_fail(cli, err);
    else if (rc == 0)
        printf("deleted %s in %s\n", o.doc, scope);
    fsy_store_close(&s);
    return rc;
}

/* ---- log ---------------------------------------------------------------- */

static const char s_log_usage[] =
    "fieldsync log DOC [--scope S] [--full] [--json]";
static const char s_log_help[] =
    "Shows the history of document DOC: every version of every field,\n"
    "oldest first, with its time (UTC), version label (SITE:SEQ, what\n"
    "'resolve --keep' takes), the site and the author that wrote it, the\n"
    "field, how many earlier versions it replaced (BASES) and its value\n"
    "(cut to one line; --json has it whole). Reserved fields\n"
    "(_kind, _deleted) are shown too; a removed field shows as (removed).\n"
    "A text field whose concurrent edits merged ends the list with a line\n"
    "saying which versions it shows merged, over which common version.\n"
    "\n"
    "  --scope S   needed only when DOC exists in several scopes\n"
    "  --full      every value whole, on the lines below its version\n"
    "  --json      print an array of versions\n"
    "\n"
    "Examples:\n"
    "  fieldsync log isf-mli-2027\n"
    "  fieldsync log isf-mli-2027 --full\n"
    "  fieldsync diff isf-mli-2027 body   (two versions compared)\n";

typedef struct s_log {
    size_t w_label, w_site, w_author, w_field;
    bool full;
    cJSON *arr;
    bool oom;
} s_log_t;

static int
s_log_measure(const fsy_change_t *c, void *ctx)
{
    s_log_t *l = ctx;
    char label[FSY_CLI_LABEL_LEN];

    fsy_cli_widen(&l->w_label, fsy_cli_label(&c->version, label));
    fsy_cli_widen(&l->w_site, c->version.origin.site);
    fsy_cli_widen(&l->w_author, c->author);
    fsy_cli_widen(&l->w_field, c->field);
    return 0;
}

static int
s_log_print(const fsy_change_t *c, void *ctx)
{
    const s_log_t *l = ctx;
    char label[FSY_CLI_LABEL_LEN], t[FSY_CLI_TIME_LEN];

    fsy_cli_pad(stdout, fsy_cli_time(c->version.hlc, false, t), 20);
    fsy_cli_pad(stdout, fsy_cli_label(&c->version, label), l->w_label);
    fsy_cli_pad(stdout, c->version.origin.site, l->w_site);
    fsy_cli_pad(stdout, c->author, l->w_author);
    fsy_cli_pad(stdout, c->field, l->w_field);
    printf("%5zu  ", c->n_bases);
    if (l->full) { /* the whole value, below, indented */
        fputs("\n    ", stdout);
        fsy_cli_print_value(stdout, c->value, c->value_len, c->absent, c->ref,
                            4);
        fputc('\n', stdout);
    } else {
        fsy_cli_print_oneline(stdout, c->value, c->value_len, c->absent, c->ref,
                              FSY_CLI_ONELINE_MAX);
    }
    fputc('\n', stdout);
    return 0;
}

static int
s_log_json(const fsy_change_t *c, void *ctx)
{
    s_log_t *l = ctx;
    char label[FSY_CLI_LABEL_LEN];
    cJSON *obj = cJSON_CreateObject();
    bool ok = fsy_cli_jtime(obj, "time", c->version.hlc) &&
              fsy_cli_jstr(obj, "version", fsy_cli_label(&c->version, label)) &&
              fsy_cli_jstr(obj, "site", c->version.origin.site) &&
              fsy_cli_jstr(obj, "author", c->author) &&
              fsy_cli_jstr(obj, "field", c->field) &&
              fsy_cli_jadd(obj, "value",
                           fsy_cli_json_value(c->value, c->value_len, c->absent,
                                              c->ref)) &&
              fsy_cli_jnum(obj, "bases", (double)c->n_bases);

    if (!ok)
        cJSON_Delete(obj);
    l->oom = !(ok && fsy_cli_jpush(l->arr, obj));
    return l->oom ? 1 : 0;
}

/* After the versions: the fields showing a merge of several of them. */
static int
s_log_merges(fsy_store_t *s, const char *scope, const char *doc)
{
    char note[FSY_MERGE_NOTE_LEN];
    fsy_doc_t *d = NULL;
    int err = fsy_store_get(s, scope, doc, &d);
    for (size_t i = 0; err == FSY_OK && i < d->n_fields; i++)
        if (d->fields[i].text_merge == FSY_TEXT_MERGE_CLEAN)
            printf("%-20s  %s: %s (shown until the next edit)\n", "now",
                   d->fields[i].name,
                   fsy_field_merge_note(&d->fields[i], note, sizeof note));
    fsy_doc_free(&d);
    return err == FSY_ENOTFOUND ? FSY_OK : err; /* no heads: nothing shown */
}

static int
s_log_text(const fsy_cli_t *cli, fsy_store_t *s, const char *scope,
           const char *doc, bool full)
{
    /* Two passes: the first sizes the columns, so no value is held. */
    s_log_t l = {
        .w_label = 7, .w_site = 4, .w_author = 6, .w_field = 5, .full = full};
    int err;

    fsy_err_clear();
    err = fsy_store_history(s, scope, doc, s_log_measure, &l);
    if (err != FSY_OK)
        return fsy_cli_fail(cli, err);
    printf("%-20s  %-*s  %-*s  %-*s  %-*s  BASES  VALUE\n", "TIME",
           (int)l.w_label, "VERSION", (int)l.w_site, "SITE", (int)l.w_author,
           "AUTHOR", (int)l.w_field, "FIELD");
    fsy_err_clear();
    err = fsy_store_history(s, scope, doc, s_log_print, &l);
    if (err == FSY_OK)
        err = s_log_merges(s, scope, doc);
    return fsy_cli_check(cli, err);
}

static int
s_log_all_json(const fsy_cli_t *cli, fsy_store_t *s, const char *scope,
               const char *doc)
{
    s_log_t l = {.arr = cJSON_CreateArray()};
    int err;

    if (l.arr == NULL)
        return fsy_cli_oom(cli);
    fsy_err_clear();
    err = fsy_store_history(s, scope, doc, s_log_json, &l);
    if (l.oom || err != FSY_OK) {
        cJSON_Delete(l.arr);
        return l.oom ? fsy_cli_oom(cli) : fsy_cli_fail(cli, err);
    }
    return fsy_cli_json_print(cli, l.arr, true);
}

int
fsy_cmd_log(fsy_cli_t *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"scope", required_argument, NULL, OPT_SCOPE},
        {"json", no_argument, NULL, OPT_JSON},
        {"full", no_argument, NULL, OPT_FULL},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    char scope[FSY_SCOPE_MAX + 1];
    fsy_store_t *s = NULL;
    s_docopts_t o;
    int rc;

    cli->usage = s_log_usage;
    rc = s_docopts(cli, argc, argv, s_log_help, opts, &o);
    if (rc == 0)
        rc = fsy_cli_open_doc(cli, o.doc, o.scope, &s, scope);
    if (rc == 0 && o.json)
        rc = s_log_all_json(cli, s, scope, o.doc);
    else if (rc == 0)
        rc = s_log_text(cli, s, scope, o.doc, o.full);
    fsy_store_close(&s);
    return rc;
}
