/*
 * fieldsync CLI — exchange and integrity: vv, bundle (export|import),
 * digest, verify.
 *
 * The offline exchange: the receiving site writes its version vector to a
 * file (`vv -o`), the file travels to the sending site, which exports the
 * changes that vector lacks (`bundle export --to-vv`), and the bundle
 * travels back to be imported. The vv file's format and its checks are the
 * library's (fieldsync/vv.h).
 */
#include "common.h"
#include "fieldsync/keys.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "fieldsync/bundle.h"
#include "fieldsync/error.h"
#include "fieldsync/ident.h"

enum {
    OPT_SCOPE = 256,
    OPT_TO_VV,
    OPT_ALL,
    OPT_JSON,
    OPT_KEY,
    OPT_ATTACHMENTS,
    OPT_FOR,
    OPT_TRUST,
    OPT_ALLOW_UNSIGNED
};

/* A vector read from a file (fieldsync/vv.h, fsy_vv_file_parse). */
typedef struct s_vvfile {
    fsy_origin_t owner;
    fsy_vv_t *vv;
} s_vvfile_t;

static int
s_vv_read(const fsy_cli_t *cli, const char *path, s_vvfile_t *out)
{
    uint8_t *buf;
    size_t len;
    int rc = fsy_cli_read_file(cli, path, FSY_VV_FILE_MAX,
                               "a version vector file", &buf, &len);

    memset(out, 0, sizeof *out);
    if (rc == FSY_EXIT_OK &&
        fsy_vv_file_parse(buf, len, &out->owner, &out->vv) != FSY_OK)
        rc = fsy_cli_failf(cli, "%s: %s", path, fsy_errdetail());
    free(buf);
    return rc;
}

/* The vv file's text, malloc'd (free()); NULL after saying why. */
static char *
s_vv_text(const fsy_cli_t *cli, const fsy_origin_t *self, const fsy_vv_t *vv)
{
    char *text = NULL;
    int err = fsy_vv_file_write(self, vv, &text);

    if (err == FSY_ENOMEM)
        fsy_cli_oom(cli);
    else if (err != FSY_OK)
        fsy_cli_failf(cli, "%s", fsy_errdetail());
    return text;
}

/* ---- vv ----------------------------------------------------------------- */

static const char s_vv_usage[] = "fieldsync vv [-o FILE] [--json]";
static const char s_vv_help[] =
    "Shows this replica's version vector: for each scope and each origin\n"
    "site, the highest sequence number of that site's changes held here\n"
    "without a gap. Another site reads it to know what this one lacks.\n"
    "\n"
    "  -o, --output FILE  write the vector as a vv file (written\n"
    "                     atomically) for 'bundle export --to-vv'\n"
    "  --json             print the vector in the vv file format\n"
    "\n"
    "Example, at a field office before a courier leaves for the hub:\n"
    "  fieldsync vv -o gao.vv\n";

static void
s_vv_table(const fsy_origin_t *self, const fsy_vv_t *vv)
{
    char inc[FSY_CLI_HEX64_LEN];
    size_t ws = 5, wo = 4, i;

    printf("site %s, incarnation %s\n", self->site,
           fsy_cli_hex64(self->incarnation, inc));
    if (vv->n == 0) {
        puts("(empty: this replica holds no changes yet)");
        return;
    }
    for (i = 0; i < vv->n; i++) {
        fsy_cli_widen(&ws, vv->v[i].scope);
        fsy_cli_widen(&wo, vv->v[i].origin.site);
    }
    printf("%-*s  %-*s  %-16s  %s\n", (int)ws, "SCOPE", (int)wo, "SITE",
           "INCARNATION", "SEQ");
    for (i = 0; i < vv->n; i++) {
        fsy_cli_pad(stdout, vv->v[i].scope, ws);
        fsy_cli_pad(stdout, vv->v[i].origin.site, wo);
        printf("%s  %llu\n", fsy_cli_hex64(vv->v[i].origin.incarnation, inc),
               (unsigned long long)vv->v[i].seq);
    }
}

static int
s_vv_write(const fsy_cli_t *cli, const char *path, const fsy_origin_t *self,
           const fsy_vv_t *vv, bool json)
{
    char *text = s_vv_text(cli, self, vv);
    cJSON *root;
    size_t len;
    bool ok;
    int rc;

    if (text == NULL)
        return FSY_EXIT_FAIL;
    len = strlen(text);
    text[len] = '\n'; /* overwrites the NUL: the file ends with a newline */
    rc = fsy_cli_write_file(cli, path, text, len + 1);
    free(text);
    if (rc != FSY_EXIT_OK)
        return rc;
    if (!json) {
        printf("wrote the version vector of %s (%zu entr%s) to %s\n",
               self->site, vv->n, vv->n == 1 ? "y" : "ies", path);
        return FSY_EXIT_OK;
    }
    root = cJSON_CreateObject();
    ok = fsy_cli_jstr(root, "path", path) &&
         fsy_cli_jnum(root, "entries", (double)vv->n);
    return fsy_cli_json_print(cli, root, ok);
}

static int
s_vv_show(const fsy_cli_t *cli, const fsy_origin_t *self, const fsy_vv_t *vv,
          const char *out, bool json)
{
    char *text;

    if (fsy_vv_file_check(vv) != FSY_OK)
        return fsy_cli_failf(cli, "%s", fsy_errdetail());
    if (out != NULL)
        return s_vv_write(cli, out, self, vv, json);
    if (!json) {
        s_vv_table(self, vv);
        return FSY_EXIT_OK;
    }
    if ((text = s_vv_text(cli, self, vv)) == NULL)
        return FSY_EXIT_FAIL;
    puts(text);
    free(text);
    return FSY_EXIT_OK;
}

int
fsy_cmd_vv(fsy_cli_t *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"output", required_argument, NULL, 'o'},
        {"json", no_argument, NULL, OPT_JSON},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *out = NULL;
    fsy_store_t *s = NULL;
    fsy_vv_t *vv = NULL;
    bool json = false;
    int c, rc;

    cli->usage = s_vv_usage;
    fsy_cli_getopt_reset();
    while ((c = getopt_long(argc, argv, ":ho:", opts, NULL)) != -1) {
        if (c == 'o')
            out = optarg;
        else if (c == OPT_JSON)
            json = true;
        else if (c == 'h')
            return fsy_cli_help(cli, s_vv_help);
        else
            return fsy_cli_bad_option(cli, c, argv);
    }
    rc = fsy_cli_operands(cli, argc, argv, 0, "no operands");
    if (rc == 0)
        rc = fsy_cli_open(cli, &s);
    if (rc == 0) {
        fsy_err_clear();
        rc = fsy_cli_check(cli, fsy_store_vv(s, &vv));
    }
    if (rc == 0)
        rc = s_vv_show(cli, fsy_store_origin(s), vv, out, json);
    if (vv != NULL)
        fsy_vv_free(&vv);
    fsy_store_close(&s);
    return rc;
}

/* ---- bundle ------------------------------------------------------------- */

static const char s_bundle_usage[] =
    "fieldsync bundle export (--to-vv FILE | --for SITE | --all) -o OUT "
    "[--json]\n"
    "       fieldsync bundle import FILE [--trust KEY.pub ...] "
    "[--allow-unsigned] [--json]";
static const char s_bundle_help[] =
    "Carries changes between sites by file (USB stick, mail) when there is\n"
    "no working link. A bundle is checksummed and names its sending site;\n"
    "importing one twice, or into the site that wrote it, changes nothing.\n"
    "\n"
    "  export --to-vv FILE  the changes the site whose vector is in FILE\n"
    "                       (from its 'fieldsync vv -o FILE') lacks\n"
    "  export --for SITE    every change SITE may read (without a vector)\n"
    "                       A bundle for a [child] holds only its\n"
    "                       read_scopes, as the live link would send.\n"
    "  export --all         every change this replica holds, for anyone\n"
    "  export -o OUT        the bundle file to write (atomically)\n"
    "  export --key FILE    sign with this secret key (default: the site's\n"
    "                       [site] secret_key_file from -c CONFIG)\n"
    "  export --attachments all|none\n"
    "                       carry the bytes of the attachments the changes\n"
    "                       refer to (all, the default), or only their\n"
    "                       references (none: a small bundle for a small\n"
    "                       USB key; the bytes follow later)\n"
    "  import FILE          apply a bundle, all of it or nothing\n"
    "  import --trust KEY.pub\n"
    "                       also accept bundles signed by this key (a\n"
    "                       'fieldsync keygen' .pub file; repeatable)\n"
    "  import --allow-unsigned\n"
    "                       apply an unsigned bundle (you know where it\n"
    "                       came from: nothing in it says so)\n"
    "  --json               print the counts as JSON\n"
    "\n"
    "Who may send what: a bundle is accepted if signed by a key this site\n"
    "knows (its own, its parent's server_public_key, a [child]'s\n"
    "public_key, a --trust key) and it names its signer as its sender.\n"
    "Then the live link's rules apply: from a child, only its own changes\n"
    "and those of its sites_below, in its write_scopes; nobody's copy of\n"
    "this site's own changes. What is refused is counted and reported\n"
    "(exit status 1); the rest is applied. A tampered bundle, an unknown\n"
    "signer or an unsigned bundle without --allow-unsigned is refused\n"
    "whole.\n"
    "\n"
    "Example, from HQ to the Gao field office:\n"
    "  at gao:  fieldsync vv -o gao.vv\n"
    "  at hq:   fieldsync bundle export --to-vv gao.vv -o hq-to-gao.fsb\n"
    "  at gao:  fieldsync bundle import hq-to-gao.fsb\n";

typedef struct s_export_opts {
    const char *to_vv;
    const char *for_site;  /* --for */
    const char *recipient; /* --for or the vector file's site; NULL: --all */
    const char *out;
    const char *key; /* --key, else [site] secret_key_file, else unsigned */
    bool all;
    bool json;
    bool no_attachments;
    bool attachments_all; /* --attachments all, said explicitly */
} s_export_opts_t;

/* The key that signs exported bundles: --key, or the site's own. */
static int
s_signer(const fsy_cli_t *cli, const char *key, fsy_identity_t *id, bool *sign)
{
    memset(id, 0, sizeof *id);
    if (key == NULL && cli->cfg.secret_key_file[0] != '\0')
        key = cli->cfg.secret_key_file;
    *sign = key != NULL;
    if (key == NULL)
        return FSY_EXIT_OK;
    fsy_err_clear();
    return fsy_cli_check(cli, fsy_identity_load(key, id));
}

/* Reads a 'fieldsync keygen' .pub file into a signer a person named. */
static int
s_trust_file(const fsy_cli_t *cli, const char *path, fsy_bundle_signer_t *out)
{
    uint8_t *buf;
    size_t len;
    char z85[FSY_KEY_Z85_LEN + 1];
    int rc = fsy_cli_read_file(cli, path, 256, "a public key file", &buf, &len);
    if (rc != FSY_EXIT_OK)
        return rc;
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
        len--;
    snprintf(z85, sizeof z85, "%.*s", (int)len, (const char *)buf);
    free(buf);
    memset(out, 0, sizeof *out);
    out->auth.role = FSY_ROLE_NAMED;
    if (len != FSY_KEY_Z85_LEN || fsy_public_key_parse(z85, out->key, NULL))
        return fsy_cli_failf(cli,
                             "--trust %s: not a public key file (the .pub a "
                             "'fieldsync keygen' writes)",
                             path);
    return FSY_EXIT_OK;
}

/* Adds a configured key (Z85) with its role; "" adds nothing. */
static int
s_trust_add(fsy_bundle_signer_t *v, size_t *n, const char *z85, fsy_role_t role,
            const char *site)
{
    if (z85[0] == '\0')
        return FSY_OK;
    fsy_bundle_signer_t *t = &v[*n];
    memset(t, 0, sizeof *t);
    t->auth.role = role;
    snprintf(t->auth.site, sizeof t->auth.site, "%s", site);
    int rc = fsy_public_key_parse(z85, t->key, NULL);
    *n += rc == FSY_OK;
    return rc;
}

/*
 * Whom this site accepts bundles from, and what each may write: itself,
 * its parent and its children by the keys its configuration names (each
 * child with its [child] limits), and the keys given with --trust.
 */
static int
s_trust(const fsy_cli_t *cli, fsy_bundle_signer_t *v, const char **files,
        size_t n_files, fsy_bundle_trust_t *t)
{
    const fsy_config_t *cfg = &cli->cfg;
    size_t n = 0;
    int rc = FSY_OK;
    if (cfg->secret_key_file[0] != '\0') {
        fsy_identity_t id;
        if ((rc = fsy_identity_load(cfg->secret_key_file, &id)) == FSY_OK) {
            v[n] = (fsy_bundle_signer_t){.auth.role = FSY_ROLE_SELF};
            memcpy(v[n].key, id.sign_pk, 32);
            snprintf(v[n++].auth.site, sizeof v->auth.site, "%s", cfg->site_id);
        }
        fsy_identity_wipe(&id);
    }
    if (rc == FSY_OK)
        rc = s_trust_add(v, &n, cfg->parent_public_key, FSY_ROLE_PARENT, "");
    for (size_t i = 0; rc == FSY_OK && i < cfg->n_children; i++) {
        const fsy_child_conf_t *c = &cfg->children[i];
        size_t at = n;
        rc = s_trust_add(v, &n, c->public_key, FSY_ROLE_CHILD, c->site);
        if (n > at)
            v[at].auth.child = c;
    }
    if (rc != FSY_OK)
        return fsy_cli_check(cli, rc);
    for (size_t i = 0; i < n_files; i++)
        if ((rc = s_trust_file(cli, files[i], &v[n++])) != FSY_EXIT_OK)
            return rc;
    t->signers = v;
    t->n = n;
    t->cfg = cfg;
    return FSY_EXIT_OK;
}

static int
s_bundle_export_options(fsy_cli_t *cli, int argc, char **argv,
                        s_export_opts_t *o)
{
    static const struct option opts[] = {
        {"to-vv", required_argument, NULL, OPT_TO_VV},
        {"for", required_argument, NULL, OPT_FOR},
        {"all", no_argument, NULL, OPT_ALL},
        {"output", required_argument, NULL, 'o'},
        {"key", required_argument, NULL, OPT_KEY},
        {"attachments", required_argument, NULL, OPT_ATTACHMENTS},
        {"json", no_argument, NULL, OPT_JSON},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int c, rc;

    fsy_cli_getopt_reset();
    while ((c = getopt_long(argc, argv, ":ho:", opts, NULL)) != -1) {
        if (c == OPT_KEY)
            o->key = optarg;
        else if (c == OPT_ATTACHMENTS &&
                 (strcmp(optarg, "all") == 0 || strcmp(optarg, "none") == 0))
            o->attachments_all =
                !(o->no_attachments = strcmp(optarg, "none") == 0);
        else if (c == OPT_ATTACHMENTS)
            return fsy_cli_badargf(cli, "--attachments '%.40s': all or none",
                                   optarg);
        else if (c == OPT_TO_VV)
            o->to_vv = optarg;
        else if (c == OPT_FOR)
            o->for_site = optarg;
        else if (c == OPT_ALL)
            o->all = true;
        else if (c == 'o')
            o->out = optarg;
        else if (c == OPT_JSON)
            o->json = true;
        else if (c == 'h')
            return fsy_cli_help(cli, s_bundle_help);
        else
            return fsy_cli_bad_option(cli, c, argv);
    }
    if ((rc = fsy_cli_operands(cli, argc, argv, 0, "no operands")) != 0)
        return rc;
    if (o->all && (o->to_vv != NULL || o->for_site != NULL))
        return fsy_cli_usagef(cli, "--all is every change, for anyone: "
                                   "leave out --to-vv and --for");
    if (!o->all && o->to_vv == NULL && o->for_site == NULL)
        return fsy_cli_usagef(cli, "whom is the bundle for? Give --to-vv "
                                   "FILE, --for SITE, or --all");
    if (o->for_site != NULL && fsy_check_site(o->for_site) != FSY_OK)
        return fsy_cli_badargf(cli, "--for '%.40s': %s", o->for_site,
                               fsy_errdetail());
    if (o->out == NULL)
        return fsy_cli_usagef(cli, "missing -o OUT");
    return FSY_EXIT_OK;
}

/* What was said of attachments, after the line on changes. */
static void
s_attachments_line(const fsy_cli_t *cli, const fsy_bundle_opts_t *b)
{
    char size[16];

    if (b->n_blobs > 0)
        printf("with %zu attachment%s (%s)\n", b->n_blobs,
               b->n_blobs == 1 ? "" : "s", fsy_bytes_text(b->blob_bytes, size));
    if (b->n_missing > 0)
        fsy_cli_warnf(cli,
                      "%zu attachment%s not whole here left out: the "
                      "references travel, the bytes will follow",
                      b->n_missing, b->n_missing == 1 ? "" : "s");
}

static int
s_bundle_export_print(const fsy_cli_t *cli, const s_export_opts_t *o,
                      const fsy_bundle_opts_t *b)
{
    size_t n = b->n_changes;
    cJSON *root;
    bool ok;

    if (!o->json)
        s_attachments_line(cli, b);
    if (!o->json && o->all)
        printf("wrote %zu change%s to %s (every change held here)\n", n,
               n == 1 ? "" : "s", o->out);
    else if (!o->json)
        printf("wrote %zu change%s to %s (what %s lacks%s%s)\n", n,
               n == 1 ? "" : "s", o->out, o->recipient,
               b->read_scopes ? " and may read: " : "",
               b->read_scopes ? b->read_scopes : "");
    if (!o->json)
        return FSY_EXIT_OK;
    root = cJSON_CreateObject();
    ok = fsy_cli_jstr(root, "path", o->out) &&
         fsy_cli_jnum(root, "changes", (double)n) &&
         fsy_cli_jadd(root, "for",
                      o->all ? cJSON_CreateNull()
                             : cJSON_CreateString(o->recipient)) &&
         fsy_cli_jadd(root, "read_scopes",
                      b->read_scopes ? cJSON_CreateString(b->read_scopes)
                                     : cJSON_CreateNull()) &&
         fsy_cli_jnum(root, "attachments", (double)b->n_blobs) &&
         fsy_cli_jnum(root, "attachment_bytes", (double)b->blob_bytes) &&
         fsy_cli_jnum(root, "attachments_left_out", (double)b->n_missing);
    return fsy_cli_json_print(cli, root, ok);
}

/*
 * A bundle for one of this site's children carries what the live link
 * would: nothing under [child] attachments = none (refused even when
 * asked for), and on demand only when a person says --attachments all
 * (as a fetch would).
 */
static int
s_child_policy(const fsy_cli_t *cli, s_export_opts_t *o)
{
    const fsy_child_conf_t *acl =
        o->recipient != NULL ? fsy_config_child(&cli->cfg, o->recipient) : NULL;

    if (acl == NULL || acl->attachments == FSY_ATTACH_ALL || o->no_attachments)
        return FSY_EXIT_OK;
    if (acl->attachments == FSY_ATTACH_NONE && o->attachments_all)
        return fsy_cli_failf(cli,
                             "%s gets no attachments ([child %s] attachments "
                             "= none): leave out --attachments all",
                             o->recipient, o->recipient);
    if (acl->attachments == FSY_ATTACH_ON_DEMAND && o->attachments_all)
        return FSY_EXIT_OK;
    o->no_attachments = true;
    fsy_cli_warnf(cli,
                  "attachments left out: %s gets them %s ([child %s] "
                  "attachments)",
                  o->recipient,
                  acl->attachments == FSY_ATTACH_NONE
                      ? "never"
                      : "on demand (--attachments all to carry them)",
                  o->recipient);
    return FSY_EXIT_OK;
}

/*
 * Whom the bundle is for: --for, or the site the vector file names (both:
 * they must agree). A configured child gets what the live link would send
 * it: its read_scopes only.
 */
static int
s_recipient(const fsy_cli_t *cli, const s_vvfile_t *vf, s_export_opts_t *o,
            fsy_bundle_opts_t *b)
{
    if (o->all)
        return FSY_EXIT_OK;
    if (o->to_vv != NULL && o->for_site != NULL &&
        strcmp(o->for_site, vf->owner.site) != 0)
        return fsy_cli_failf(cli,
                             "%s is %s's vector, not %s's: give the "
                             "recipient's own vector file",
                             o->to_vv, vf->owner.site, o->for_site);
    o->recipient = o->to_vv != NULL ? vf->owner.site : o->for_site;
    const fsy_child_conf_t *acl = fsy_config_child(&cli->cfg, o->recipient);
    if (acl != NULL && acl->read_scopes[0] != '\0')
        b->read_scopes = acl->read_scopes;
    return FSY_EXIT_OK;
}

static int
s_bundle_export(fsy_cli_t *cli, int argc, char **argv)
{
    s_export_opts_t o = {0};
    s_vvfile_t vf = {0};
    fsy_store_t *s = NULL;
    fsy_bundle_opts_t b = {0};
    int err, rc = s_bundle_export_options(cli, argc, argv, &o);

    if (rc == 0 && o.to_vv != NULL)
        rc = s_vv_read(cli, o.to_vv, &vf);
    if (rc == 0)
        rc = s_recipient(cli, &vf, &o, &b);
    if (rc == 0)
        rc = s_child_policy(cli, &o);
    if (rc == 0)
        rc = fsy_cli_open(cli, &s);
    if (rc == 0 && o.to_vv != NULL &&
        fsy_origin_eq(&vf.owner, fsy_store_origin(s)))
        fsy_cli_warnf(cli,
                      "%s is this replica's own vector: the bundle "
                      "holds nothing it lacks",
                      o.to_vv);
    fsy_identity_t id;
    bool sign = false;
    if (rc == 0)
        rc = s_signer(cli, o.key, &id, &sign);
    if (rc == 0) {
        fsy_err_clear();
        b.signer = sign ? &id : NULL;
        b.no_attachments = o.no_attachments;
        err = fsy_bundle_export_opts(s, vf.vv, o.out, &b);
        if (err != FSY_OK)
            rc = fsy_cli_failpath(cli, err, "cannot write", o.out);
    }
    fsy_identity_wipe(&id);
    if (rc == 0)
        rc = s_bundle_export_print(cli, &o, &b);
    fsy_store_close(&s);
    fsy_vv_free(&vf.vv);
    return rc;
}

/* Clocks a few minutes apart are normal on field machines. */
#define FSY_CLI_CLOCK_WARN_MS (10u * 60u * 1000u)

static void
s_gap_warning(const fsy_cli_t *cli, const fsy_apply_stats_t *st)
{
    fsy_cli_warnf(cli,
                  "%zu change%s not applied: scope %s from %s has a gap "
                  "(have seq %llu, got %llu): import the earlier bundle "
                  "first, or ask %s for a bundle made against your current "
                  "vector: fieldsync vv -o FILE",
                  st->gapped, st->gapped == 1 ? "" : "s", st->gap_scope,
                  st->gap_origin.site, (unsigned long long)st->gap_have,
                  (unsigned long long)st->gap_got, st->gap_origin.site);
}

static int
s_bundle_import_print(const fsy_cli_t *cli, const char *path,
                      const fsy_apply_stats_t *st, bool json)
{
    /* Refused changes are an alarm: the rest was applied, but the exit
     * status must make a script look. */
    int status = st->refused > 0 ? FSY_EXIT_FAIL : FSY_EXIT_OK;
    cJSON *root;
    bool ok;
    int rc;

    if (!json) {
        printf("imported %s: %zu applied, %zu duplicate%s, %zu gapped, "
               "%zu refused",
               path, st->applied, st->duplicates,
               st->duplicates == 1 ? "" : "s", st->gapped, st->refused);
        if (st->chunks > 0)
            printf(", %zu attachment%s now whole here", st->blobs,
                   st->blobs == 1 ? "" : "s");
        putchar('\n');
        return status;
    }
    root = cJSON_CreateObject();
    ok = fsy_cli_jstr(root, "path", path) &&
         fsy_cli_jnum(root, "applied", (double)st->applied) &&
         fsy_cli_jnum(root, "duplicates", (double)st->duplicates) &&
         fsy_cli_jnum(root, "gapped", (double)st->gapped) &&
         fsy_cli_jnum(root, "refused", (double)st->refused) &&
         fsy_cli_jnum(root, "ahead_ms", (double)st->ahead_ms) &&
         fsy_cli_jnum(root, "attachment_chunks", (double)st->chunks) &&
         fsy_cli_jnum(root, "attachments", (double)st->blobs);
    rc = fsy_cli_json_print(cli, root, ok);
    return rc != FSY_EXIT_OK ? rc : status;
}

typedef struct s_import_opts {
    const char **trust; /* --trust files (argv borrowed) */
    size_t n_trust;
    bool allow_unsigned;
    bool json;
} s_import_opts_t;

static int
s_bundle_import_options(fsy_cli_t *cli, int argc, char **argv,
                        s_import_opts_t *o)
{
    static const struct option opts[] = {
        {"trust", required_argument, NULL, OPT_TRUST},
        {"allow-unsigned", no_argument, NULL, OPT_ALLOW_UNSIGNED},
        {"json", no_argument, NULL, OPT_JSON},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int c;

    fsy_cli_getopt_reset();
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if (c == OPT_JSON)
            o->json = true;
        else if (c == OPT_TRUST)
            o->trust[o->n_trust++] = optarg;
        else if (c == OPT_ALLOW_UNSIGNED)
            o->allow_unsigned = true;
        else if (c == 'h')
            return fsy_cli_help(cli, s_bundle_help);
        else
            return fsy_cli_bad_option(cli, c, argv);
    }
    return fsy_cli_operands(cli, argc, argv, 1, "FILE");
}

static void
s_import_warnings(const fsy_cli_t *cli, const fsy_apply_stats_t *st)
{
    if (st->gapped > 0)
        s_gap_warning(cli, st);
    if (st->ahead_ms >= FSY_CLI_CLOCK_WARN_MS)
        fsy_cli_warnf(cli,
                      "changes from %s are stamped %llum ahead of this "
                      "machine's clock: check the clock at %s (or here); the "
                      "changes were accepted",
                      st->ahead_origin.site,
                      (unsigned long long)(st->ahead_ms / 60000),
                      st->ahead_origin.site);
    if (st->refused > 0)
        fsy_cli_warnf(cli,
                      "%zu change%s refused: %s. The rest was applied; tell "
                      "the operators of the sending site and keep the "
                      "bundle",
                      st->refused, st->refused == 1 ? "" : "s",
                      st->refused_why);
}

static int
s_bundle_import(fsy_cli_t *cli, int argc, char **argv)
{
    fsy_apply_stats_t st;
    fsy_store_t *s = NULL;
    s_import_opts_t o = {0};
    fsy_bundle_trust_t trust = {0};
    size_t cap = FSY_MAX_CHILDREN + 2 + (size_t)argc;
    fsy_bundle_signer_t *keys = calloc(cap, sizeof *keys);
    int rc, err = FSY_OK;

    if ((o.trust = calloc((size_t)argc + 1, sizeof *o.trust)) == NULL ||
        keys == NULL)
        rc = fsy_cli_check(cli, FSY_ENOMEM);
    else
        rc = s_bundle_import_options(cli, argc, argv, &o);
    if (rc == 0)
        rc = s_trust(cli, keys, o.trust, o.n_trust, &trust);
    trust.allow_unsigned = o.allow_unsigned;
    if (rc == 0 && o.allow_unsigned)
        fsy_cli_warnf(cli,
                      "applying %s even if unsigned: nothing then says "
                      "which site wrote it",
                      argv[optind]);
    if (rc == 0)
        rc = fsy_cli_open(cli, &s);
    memset(&st, 0, sizeof st);
    if (rc == 0) {
        fsy_err_clear();
        err = fsy_bundle_import_trusted(s, argv[optind], &trust, &st);
    }
    free(keys);
    free(o.trust);
    fsy_store_close(&s);
    if (rc != 0)
        return rc;
    if (err != FSY_OK)
        return fsy_cli_failpath(cli, err, "cannot import", argv[optind]);
    s_import_warnings(cli, &st);
    return s_bundle_import_print(cli, argv[optind], &st, o.json);
}

int
fsy_cmd_bundle(fsy_cli_t *cli, int argc, char **argv)
{
    const char *sub = argc > 1 ? argv[1] : NULL;

    cli->usage = s_bundle_usage;
    if (sub == NULL)
        return fsy_cli_usagef(cli, "expected 'export' or 'import'");
    if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0)
        return fsy_cli_help(cli, s_bundle_help);
    if (strcmp(sub, "export") == 0) {
        cli->cmd = "bundle export";
        return s_bundle_export(cli, argc - 1, argv + 1);
    }
    if (strcmp(sub, "import") == 0) {
        cli->cmd = "bundle import";
        return s_bundle_import(cli, argc - 1, argv + 1);
    }
    return fsy_cli_usagef(cli,
                          "unknown bundle command '%s': expected "
                          "'export' or 'import'",
                          sub);
}

/* ---- digest ------------------------------------------------------------- */

static const char s_digest_usage[] = "fieldsync digest [--scope S] [--json]";
static const char s_digest_help[] =
    "Prints a hash (BLAKE2b-256, hex) of what this replica shows: every\n"
    "visible document, its winning values and its open conflicts. Two\n"
    "replicas holding the same changes print the same digest, so comparing\n"
    "digests tells whether sites have converged.\n"
    "\n"
    "  --scope S   only the documents of scope S\n"
    "  --json      print {\"scope\": ..., \"digest\": ...}\n"
    "\n"
    "Example:\n"
    "  fieldsync digest --scope MLI\n";

static int
s_digest_print(const fsy_cli_t *cli, const char *scope,
               const uint8_t d[FSY_DIGEST_LEN], bool json)
{
    char hex[2 * FSY_DIGEST_LEN + 1];
    cJSON *root;
    bool ok;

    sodium_bin2hex(hex, sizeof hex, d, FSY_DIGEST_LEN);
    if (!json) {
        puts(hex);
        return FSY_EXIT_OK;
    }
    root = cJSON_CreateObject();
    ok = fsy_cli_jadd(root, "scope",
                      scope ? cJSON_CreateString(scope) : cJSON_CreateNull()) &&
         fsy_cli_jstr(root, "digest", hex);
    return fsy_cli_json_print(cli, root, ok);
}

int
fsy_cmd_digest(fsy_cli_t *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"scope", required_argument, NULL, OPT_SCOPE},
        {"json", no_argument, NULL, OPT_JSON},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    uint8_t d[FSY_DIGEST_LEN];
    const char *scope = NULL;
    fsy_store_t *s = NULL;
    bool json = false;
    int c, rc;

    cli->usage = s_digest_usage;
    fsy_cli_getopt_reset();
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if (c == OPT_SCOPE)
            scope = optarg;
        else if (c == OPT_JSON)
            json = true;
        else if (c == 'h')
            return fsy_cli_help(cli, s_digest_help);
        else
            return fsy_cli_bad_option(cli, c, argv);
    }
    rc = fsy_cli_operands(cli, argc, argv, 0, "no operands");
    if (rc == 0 && scope != NULL)
        rc = fsy_cli_check(cli, fsy_check_scope(scope));
    if (rc == 0)
        rc = fsy_cli_open(cli, &s);
    if (rc == 0) {
        fsy_err_clear();
        rc = fsy_cli_check(cli, fsy_store_digest(s, scope, d));
    }
    if (rc == 0)
        rc = s_digest_print(cli, scope, d, json);
    fsy_store_close(&s);
    return rc;
}

/* ---- verify ------------------------------------------------------------- */

static const char s_verify_usage[] = "fieldsync verify [--json]";
static const char s_verify_help[] =
    "Checks every stored change against its checksum, the version vector\n"
    "against the log, and SQLite's own integrity check. Exits 1 when the\n"
    "replica is damaged, naming the first bad row: do not exchange bundles\n"
    "from a damaged replica before it is repaired or restored.\n"
    "\n"
    "  --json      print the report as JSON\n"
    "\n"
    "Example:\n"
    "  fieldsync --db /var/lib/fieldsync/gao.db verify\n";

static void
s_verify_table(const fsy_cli_t *cli, const fsy_verify_report_t *r, bool bad)
{
    printf("changes checked   %llu\n", (unsigned long long)r->changes_checked);
    printf("bad checksums     %llu", (unsigned long long)r->bad_checksums);
    if (r->bad_checksums > 0)
        printf(" (first at local seq %llu)",
               (unsigned long long)r->first_bad_lseq);
    printf("\nvector holes      %llu\n", (unsigned long long)r->vv_holes);
    printf("sqlite integrity  %s\n", r->sqlite_ok ? "ok" : "FAILED");
    if (!bad)
        printf("replica %s is sound\n", cli->db);
}

static int
s_verify_json(const fsy_cli_t *cli, const fsy_verify_report_t *r, bool bad)
{
    cJSON *root = cJSON_CreateObject();
    bool ok =
        fsy_cli_jbool(root, "ok", !bad) &&
        fsy_cli_jnum(root, "changes_checked", (double)r->changes_checked) &&
        fsy_cli_jnum(root, "bad_checksums", (double)r->bad_checksums) &&
        fsy_cli_jnum(root, "first_bad_lseq", (double)r->first_bad_lseq) &&
        fsy_cli_jnum(root, "vv_holes", (double)r->vv_holes) &&
        fsy_cli_jbool(root, "sqlite_ok", r->sqlite_ok);

    return fsy_cli_json_print(cli, root, ok);
}

/* The one-line verdict on stderr, naming the first problem found. */
static int
s_verify_damage(const fsy_cli_t *cli, const fsy_verify_report_t *r)
{
    if (r->bad_checksums > 0)
        return fsy_cli_failf(cli,
                             "replica %s is damaged: the change at "
                             "local seq %llu fails its checksum (%llu "
                             "bad in all)",
                             cli->db, (unsigned long long)r->first_bad_lseq,
                             (unsigned long long)r->bad_checksums);
    if (r->vv_holes > 0)
        return fsy_cli_failf(cli,
                             "replica %s is damaged: its version vector "
                             "counts changes missing from the log "
                             "(%llu entries)",
                             cli->db, (unsigned long long)r->vv_holes);
    if (!r->sqlite_ok)
        return fsy_cli_failf(cli,
                             "replica %s is damaged: SQLite's "
                             "integrity check failed",
                             cli->db);
    return fsy_cli_failerr(cli, FSY_ECORRUPT, "replica %s is damaged", cli->db);
}

int
fsy_cmd_verify(fsy_cli_t *cli, int argc, char **argv)
{
    fsy_verify_report_t r;
    fsy_store_t *s = NULL;
    bool json;
    int rc, err;

    cli->usage = s_verify_usage;
    rc = fsy_cli_json_only(cli, argc, argv, s_verify_help, &json);
    if (rc == 0)
        rc = fsy_cli_open(cli, &s);
    if (rc != 0)
        return rc;
    memset(&r, 0, sizeof r);
    fsy_err_clear();
    err = fsy_store_verify(s, &r);
    fsy_store_close(&s);
    if (err != FSY_OK && err != FSY_ECORRUPT)
        return fsy_cli_fail(cli, err);
    if (json)
        rc = s_verify_json(cli, &r, err != FSY_OK);
    else
        s_verify_table(cli, &r, err != FSY_OK);
    return err == FSY_OK ? rc : s_verify_damage(cli, &r);
}
