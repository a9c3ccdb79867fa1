/*
 * fieldsync CLI — keygen: a site's key pair, for encrypted, authenticated
 * links (and, later, signed bundles).
 */
#include <getopt.h>
#include <stdio.h>

#include "common.h"
#include "fieldsync/keys.h"

enum { OPT_JSON = 256, OPT_FORCE };

static const char s_keygen_usage[] = "fieldsync keygen -o NAME [--force] "
                                     "[--json]";

static const char s_keygen_help[] =
    "Creates this site's key pair: NAME.key, the secret (mode 0600: keep it\n"
    "on this machine only), and NAME.pub, the public key to give to the\n"
    "parent ([child SITE] public_key) and to the children ([parent]\n"
    "server_public_key). Both are one line of Z85 text. An existing pair is\n"
    "never replaced without --force.\n"
    "\n"
    "  -o, --output NAME  path prefix of the two files\n"
    "  --force            replace existing files\n"
    "  --json             print {\"secret_key_file\", \"public_key\"}\n"
    "\n"
    "Example:\n"
    "  fieldsync keygen -o /etc/fieldsync/gao\n";

static int
s_print(const fsy_cli_t *cli, const char *name, const char *pub, bool json)
{
    if (!json) {
        printf("wrote %s.key (secret, keep it here) and %s.pub\n"
               "public key: %s\n",
               name, name, pub);
        return FSY_EXIT_OK;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s.key", name);
    cJSON *root = cJSON_CreateObject();
    bool ok = fsy_cli_jstr(root, "secret_key_file", path) &&
              fsy_cli_jstr(root, "public_key", pub);
    return fsy_cli_json_print(cli, root, ok);
}

int
fsy_cmd_keygen(fsy_cli_t *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"output", required_argument, NULL, 'o'},
        {"force", no_argument, NULL, OPT_FORCE},
        {"json", no_argument, NULL, OPT_JSON},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *name = NULL;
    bool force = false, json = false;
    int c, rc;

    cli->usage = s_keygen_usage;
    fsy_cli_getopt_reset();
    while ((c = getopt_long(argc, argv, ":ho:", opts, NULL)) != -1) {
        if (c == 'o')
            name = optarg;
        else if (c == OPT_FORCE)
            force = true;
        else if (c == OPT_JSON)
            json = true;
        else if (c == 'h')
            return fsy_cli_help(cli, s_keygen_help);
        else
            return fsy_cli_bad_option(cli, c, argv);
    }
    if ((rc = fsy_cli_operands(cli, argc, argv, 0, "no operands")) != 0)
        return rc;
    if (name == NULL || name[0] == '\0')
        return fsy_cli_usagef(cli, "give -o NAME");
    char pub[FSY_KEY_Z85_LEN + 1];
    fsy_err_clear();
    if ((rc = fsy_cli_check(cli, fsy_keygen(name, force, pub))) != 0)
        return rc;
    return s_print(cli, name, pub, json);
}
