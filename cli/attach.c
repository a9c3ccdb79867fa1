/*
 * fieldsync CLI — attachments: storing a file for `put --attach`, showing
 * references, and writing a field out for `get --field F -o FILE`.
 */
#include "common.h"
#include "fieldsync/doc_json.h"

#include <errno.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fieldsync/attachment.h"
#include "fieldsync/error.h"

void
fsy_cli_print_ref(FILE *f, const uint8_t *v, size_t n)
{
    fsy_ref_t ref;
    char size[16], h8[9];
    if (fsy_ref_parse(v, n, &ref) != FSY_OK) { /* validated on every path */
        fputs("[attachment, unreadable reference]", f);
        return;
    }
    /* the name holds no control characters (fsy_ref_check_name) */
    fprintf(f, "[attachment] %s (%s, %s, %s)", ref.name,
            fsy_bytes_text(ref.size, size), ref.type,
            fsy_ref_short_hash(&ref, h8));
}

cJSON *
fsy_cli_json_ref(const uint8_t *v, size_t n)
{
    return fsy_value_json(v, n, false, true);
}

uint64_t
fsy_cli_attach_limit(const fsy_cli_t *cli)
{
    uint64_t m = cli->cfg.max_attachment_bytes;
    return m == 0 ? FSY_ATTACHMENT_MAX_DEFAULT : m;
}

int
fsy_cli_attach(const fsy_cli_t *cli, fsy_store_t *s, const char *path,
               const char *type, char *ref_text, size_t *len)
{
    fsy_ref_t ref;
    memset(&ref, 0, sizeof ref);
    char *copy = strdup(path);
    if (copy == NULL)
        return fsy_cli_oom(cli);
    snprintf(ref.name, sizeof ref.name, "%s", basename(copy));
    free(copy);
    snprintf(ref.type, sizeof ref.type, "%s",
             type != NULL ? type : fsy_ref_guess_type(ref.name));
    if (fsy_ref_check_name(ref.name) != FSY_OK ||
        fsy_ref_check_type(ref.type) != FSY_OK)
        return fsy_cli_failf(cli, "%s: %s", path, fsy_errdetail());
    fsy_err_clear();
    int err = fsy_store_blob_put_file(s, path, fsy_cli_attach_limit(cli), &ref);
    if (err != FSY_OK)
        return fsy_cli_failf(cli, "%s", fsy_errdetail());
    if (fsy_ref_format(&ref, ref_text, len) != FSY_OK)
        return fsy_cli_failf(cli, "%s: %s", path, fsy_errdetail());
    return FSY_EXIT_OK;
}

const char *
fsy_cli_arriving(fsy_store_t *s, const uint8_t *v, size_t n, char buf[64])
{
    fsy_ref_t ref;
    fsy_blob_state_t bs;
    char have[16], size[16];
    if (fsy_ref_parse(v, n, &ref) != FSY_OK ||
        fsy_store_blob_state(s, ref.hash, &bs) != FSY_OK || bs.complete)
        return NULL;
    snprintf(buf, 64, "arriving: %s of %s", fsy_bytes_text(bs.have, have),
             fsy_bytes_text(ref.size, size));
    return buf;
}

/* The blob of reference v into o's file. */
static int
s_write_blob(const fsy_cli_t *cli, fsy_store_t *s, const char *field,
             const uint8_t *v, size_t n, FILE *f)
{
    fsy_ref_t ref;
    char buf[64];
    if (fsy_ref_parse(v, n, &ref) != FSY_OK)
        return fsy_cli_failf(cli, "field %s: %s", field, fsy_errdetail());
    const char *arriving = fsy_cli_arriving(s, v, n, buf);
    if (arriving != NULL)
        return fsy_cli_failf(cli,
                             "field %s: %s is not complete here yet (%s): "
                             "try again once it has arrived",
                             field, ref.name, arriving);
    if (fflush(f) != 0)
        return fsy_cli_failf(cli, "cannot write: %s", strerror(errno));
    fsy_err_clear();
    if (fsy_store_blob_write(s, ref.hash, fileno(f)) != FSY_OK)
        return fsy_cli_failf(cli, "field %s: %s", field, fsy_errdetail());
    return FSY_EXIT_OK;
}

static int
s_write_value(const fsy_cli_t *cli, fsy_store_t *s, const char *field,
              const fsy_head_t *h, FILE *f)
{
    if (h->ref)
        return s_write_blob(cli, s, field, h->value, h->value_len, f);
    if (h->value_len > 0 &&
        fwrite(h->value, 1, h->value_len, f) != h->value_len)
        return fsy_cli_failf(cli, "cannot write: %s", strerror(errno));
    return FSY_EXIT_OK;
}

int
fsy_cli_write_head(const fsy_cli_t *cli, fsy_store_t *s, const char *field,
                   const fsy_head_t *h, const char *path)
{
    if (h->absent)
        return fsy_cli_failf(cli, "field %s was removed: nothing to write",
                             field);
    if (strcmp(path, "-") == 0) {
        int rc = s_write_value(cli, s, field, h, stdout);
        if (rc == FSY_EXIT_OK && fflush(stdout) != 0)
            rc = fsy_cli_failf(cli, "cannot write: %s", strerror(errno));
        return rc;
    }
    fsy_cli_out_t o;
    int rc = fsy_cli_out_open(cli, path, &o);
    if (rc != FSY_EXIT_OK)
        return rc;
    rc = s_write_value(cli, s, field, h, o.f);
    if (rc != FSY_EXIT_OK) {
        fsy_cli_out_abort(&o); /* nothing half written is left behind */
        return rc;
    }
    return fsy_cli_out_commit(cli, &o);
}
