/*
 * fieldsync CLI — fetch: ask for an attachment's bytes where they come on
 * demand ([child] attachments = on-demand at the parent). The daemon asks
 * its parent; a parent that lacks them asks its own, so the request
 * travels up the tree to a site that has them.
 */
#include "common.h"

#include <getopt.h>
#include <string.h>

#include "fieldsync/attachment.h"
#include "fieldsync/error.h"

static const char s_fetch_usage[] =
    "fieldsync fetch DOC FIELD [--scope S] [--json]";
static const char s_fetch_help[] =
    "Asks for the bytes of attachment FIELD of document DOC, where this\n"
    "site's parent sends attachments on demand. fieldsyncd fetches them\n"
    "with what is left of the link after changes; 'fieldsync get DOC' shows\n"
    "how much has arrived.\n"
    "\n"
    "  --scope S  needed only when DOC exists in several scopes\n"
    "  --json     print the outcome as JSON\n"
    "\n"
    "Example:\n"
    "  fieldsync fetch jmac-monthly-11 annex\n";

enum { OPT_SCOPE = 256, OPT_JSON };

/* The reference in the field's winning value. */
static int
s_field_ref(const fsy_cli_t *cli, const fsy_doc_t *d, const char *field,
            fsy_ref_t *ref)
{
    const fsy_field_t *f = fsy_doc_field(d, field);
    const fsy_head_t *h = f ? fsy_field_shown(f) : NULL;

    if (h == NULL || field[0] == '_')
        return fsy_cli_failf(cli, "%s has no field '%s'", d->id, field);
    if (h->absent || !h->ref)
        return fsy_cli_failf(cli, "field %s of %s is not an attachment", field,
                             d->id);
    if (fsy_ref_parse(h->value, h->value_len, ref) != FSY_OK)
        return fsy_cli_failf(cli, "field %s: %s", field, fsy_errdetail());
    return FSY_EXIT_OK;
}

static int
s_fetch(const fsy_cli_t *cli, fsy_store_t *s, const fsy_doc_t *d,
        const char *field, bool json)
{
    fsy_ref_t ref;
    fsy_blob_state_t bs;
    char size[16];
    int rc = s_field_ref(cli, d, field, &ref);

    if (rc == 0)
        rc = fsy_cli_check(cli, fsy_store_blob_state(s, ref.hash, &bs));
    if (rc == 0 && !bs.complete)
        rc = fsy_cli_check(cli, fsy_store_blob_fetch(s, ref.hash));
    if (rc != 0)
        return rc;
    if (json) {
        cJSON *root = cJSON_CreateObject();
        bool ok = fsy_cli_jstr(root, "name", ref.name) &&
                  fsy_cli_jnum(root, "size", (double)ref.size) &&
                  fsy_cli_jbool(root, "complete", bs.complete);
        return fsy_cli_json_print(cli, root, ok);
    }
    if (bs.complete)
        printf("%s is here already (%s)\n", ref.name,
               fsy_bytes_text(ref.size, size));
    else
        printf("asked for %s (%s): fieldsyncd fetches it after changes\n",
               ref.name, fsy_bytes_text(ref.size, size));
    return FSY_EXIT_OK;
}

int
fsy_cmd_fetch(fsy_cli_t *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"scope", required_argument, NULL, OPT_SCOPE},
        {"json", no_argument, NULL, OPT_JSON},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *want_scope = NULL;
    char scope[FSY_SCOPE_MAX + 1];
    fsy_store_t *s = NULL;
    fsy_doc_t *d = NULL;
    bool json = false;
    int c, rc;

    cli->usage = s_fetch_usage;
    fsy_cli_getopt_reset();
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if (c == OPT_SCOPE)
            want_scope = optarg;
        else if (c == OPT_JSON)
            json = true;
        else if (c == 'h')
            return fsy_cli_help(cli, s_fetch_help);
        else
            return fsy_cli_bad_option(cli, c, argv);
    }
    if ((rc = fsy_cli_operands(cli, argc, argv, 2, "DOC FIELD")) != 0)
        return rc;
    rc = fsy_cli_open_doc(cli, argv[optind], want_scope, &s, scope);
    if (rc == 0) {
        fsy_err_clear();
        rc = fsy_cli_check(cli, fsy_store_get(s, scope, argv[optind], &d));
    }
    if (rc == 0)
        rc = s_fetch(cli, s, d, argv[optind + 1], json);
    fsy_doc_free(&d);
    fsy_store_close(&s);
    return rc;
}
