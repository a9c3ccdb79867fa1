/*
 * fieldsync CLI — decommission: a site closed for good leaves the roster
 * (status, the page, /metrics), never the data it wrote.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "common.h"
#include "fieldsync/ident.h"

static const char s_usage[] = "fieldsync decommission SITE [--json]";

static const char s_help[] =
    "Forgets what this replica records of SITE for the roster: its\n"
    "neighbour record, the health reports heard of it, and its bundle\n"
    "imports. Its documents and changes stay. A site still named by a\n"
    "[child SITE] section of the configuration shows again as \"never\n"
    "connected\": remove the section too (and restart fieldsyncd). A site\n"
    "that syncs or sends a bundle again reappears.\n"
    "\n"
    "  --json   print {\"site\": ..., \"forgotten\": true|false}\n"
    "\n"
    "Example:\n"
    "  fieldsync -c /etc/fieldsync/hq.conf decommission tessalit\n";

int
fsy_cmd_decommission(fsy_cli_t *cli, int argc, char **argv)
{
    fsy_store_t *s = NULL;
    bool json = false, known = false;
    cli->usage = s_usage;
    enum { OPT_JSON = 256 };
    static const struct option opts[] = {{"json", no_argument, NULL, OPT_JSON},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int c;
    fsy_cli_getopt_reset();
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if (c == OPT_JSON)
            json = true;
        else if (c == 'h')
            return fsy_cli_help(cli, s_help);
        else
            return fsy_cli_bad_option(cli, c, argv);
    }
    int rc = fsy_cli_operands(cli, argc, argv, 1, "SITE");
    const char *site = rc == 0 ? argv[optind] : NULL;
    if (rc == 0 && fsy_check_site(site) != FSY_OK)
        rc = fsy_cli_usagef(cli, "'%s' is not a site id: %s", site,
                            fsy_errdetail());
    if (rc == 0)
        rc = fsy_cli_open(cli, &s);
    if (rc == 0 && strcmp(site, fsy_store_origin(s)->site) == 0)
        rc = fsy_cli_failf(cli, "%s is this site", site);
    if (rc == 0) {
        fsy_err_clear();
        rc = fsy_cli_check(cli, fsy_store_forget_site(s, site, &known));
    }
    if (rc == 0 && fsy_config_child(&cli->cfg, site) != NULL)
        fsy_cli_warnf(cli,
                      "the configuration still has [child %s]: remove it, "
                      "or %s shows again as never connected",
                      site, site);
    if (rc == 0 && json) {
        cJSON *root = cJSON_CreateObject();
        rc = fsy_cli_json_print(cli, root,
                                fsy_cli_jstr(root, "site", site) &&
                                    fsy_cli_jbool(root, "forgotten", known));
    } else if (rc == 0) {
        printf(known ? "%s decommissioned: it leaves the roster; its data "
                       "stays\n"
                     : "nothing recorded of %s: nothing to forget\n",
               site);
    }
    fsy_store_close(&s);
    return rc;
}
