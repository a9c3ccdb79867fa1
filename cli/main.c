/*
 * fieldsync — the command-line tool for people and scripts.
 *
 * It opens the site's replica directly through the store library, so local
 * writes work whether or not the daemon runs. Global options come first,
 * then one subcommand from s_cmds; each subcommand parses its own options.
 *
 * The replica path is chosen, first match wins: --db PATH, [site] db in
 * the -c CONFIG file, $FIELDSYNC_DB, ./fieldsync.db. An explicit -c is on
 * this command line, so it beats the environment.
 */
#include "common.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fieldsync/config.h"
#include "fieldsync/error.h"
#include "fieldsync/version.h"

#define S_DEFAULT_DB "./fieldsync.db"

typedef struct s_cmd {
    const char *name;
    fsy_cmd_fn fn;
    const char *summary;
} s_cmd_t;

static const s_cmd_t s_cmds[] = {
    {"init", fsy_cmd_init, "create a replica for this site"},
    {"put", fsy_cmd_put, "create a document or update some of its fields"},
    {"get", fsy_cmd_get, "show a document: fields and open conflicts"},
    {"list", fsy_cmd_list, "list documents, one a line, with filters"},
    {"search", fsy_cmd_search, "find documents by the words they contain"},
    {"rm", fsy_cmd_rm, "delete a document (at every site)"},
    {"log", fsy_cmd_log, "show a document's history, version by version"},
    {"diff", fsy_cmd_diff, "compare two versions of a field, line by line"},
    {"conflicts", fsy_cmd_conflicts, "list every open conflict"},
    {"resolve", fsy_cmd_resolve, "settle a conflict on one field"},
    {"vv", fsy_cmd_vv, "show or write this replica's version vector"},
    {"bundle", fsy_cmd_bundle, "export or import changes by file"},
    {"digest", fsy_cmd_digest, "hash of what this replica shows"},
    {"export", fsy_cmd_export, "write documents as NDJSON or CSV"},
    {"changes", fsy_cmd_changes, "every change in commit order, to follow"},
    {"import", fsy_cmd_import, "create or update documents from NDJSON"},
    {"verify", fsy_cmd_verify, "check the replica for damage"},
    {"status", fsy_cmd_status, "this site and its neighbours' sync state"},
    {"pending", fsy_cmd_pending, "what was written here and is not yet at HQ"},
    {"sync", fsy_cmd_sync, "ask the daemon to connect to its parent now"},
    {"decommission", fsy_cmd_decommission,
     "take a closed site off the roster (its data stays)"},
    {"keygen", fsy_cmd_keygen, "create this site's key pair"},
    {"fetch", fsy_cmd_fetch, "ask for an attachment sent on demand"},
};

#define S_NCMDS (sizeof s_cmds / sizeof s_cmds[0])

static const char s_usage[] =
    "fieldsync [--db PATH] [-c CONFIG] COMMAND [ARGS...]";

static const char s_intro[] =
    "Offline-first replication of plans and analysis reports between HQ,\n"
    "mission hubs and field offices. Each site keeps its own replica and\n"
    "works without a link; changes travel by bundle file or by the daemon,\n"
    "and concurrent edits end in the same state everywhere.\n";

static const char s_options[] =
    "Global options (before COMMAND):\n"
    "  --db PATH          the replica (else [site] db from the configuration,\n"
    "                     else $FIELDSYNC_DB, else ./fieldsync.db)\n"
    "  -c, --config FILE  site configuration (fieldsync.conf(5)); without -c\n"
    "                     and --db: $FIELDSYNC_CONFIG, else\n"
    "                     " FSY_DEFAULT_CONFIG " if it exists\n"
    "  --author NAME      who the writes are by (else [site] author, else\n"
    "                     $FIELDSYNC_AUTHOR, else the login name)\n"
    "  -h, --help         this help; 'fieldsync help COMMAND' for a command\n"
    "  -V, --version      print the version\n"
    "\n"
    "Example:\n"
    "  fieldsync --db bamako.db init --site bamako\n"
    "  fieldsync --db bamako.db put isf-mli-2027 --kind plan --scope MLI \\\n"
    "      --set title=\"Integrated Strategic Framework 2027\" "
    "--set status=draft\n"
    "  fieldsync --db bamako.db list\n";

static void
s_help(void)
{
    size_t i;

    printf("usage: %s\n\n%s\nCommands:\n", s_usage, s_intro);
    for (i = 0; i < S_NCMDS; i++)
        printf("  %-12s %s\n", s_cmds[i].name, s_cmds[i].summary);
    printf("\n%s", s_options);
}

static const s_cmd_t *
s_find(const char *name)
{
    size_t i;

    for (i = 0; i < S_NCMDS; i++)
        if (strcmp(s_cmds[i].name, name) == 0)
            return &s_cmds[i];
    return NULL;
}

static int
s_unknown(const fsy_cli_t *cli, const char *name)
{
    fsy_cli_failf(cli, "unknown command '%s'", name);
    fputs("try 'fieldsync help'\n", stderr);
    return FSY_EXIT_USAGE;
}

/* "help [COMMAND]": the overview, or the command's own --help. */
static int
s_help_cmd(fsy_cli_t *cli, int argc, char **argv)
{
    const s_cmd_t *cmd;
    char a0[16], a1[] = "--help";
    char *hargv[] = {a0, a1, NULL};

    if (argc < 2) {
        s_help();
        return FSY_EXIT_OK;
    }
    if (argc > 2 || (cmd = s_find(argv[1])) == NULL)
        return s_unknown(cli, argc > 2 ? argv[2] : argv[1]);
    snprintf(a0, sizeof a0, "%s", cmd->name);
    cli->cmd = cmd->name;
    return cmd->fn(cli, 2, hargv);
}

/* Parses the global options; FSY_EXIT_OK to go on to the subcommand. */
static int
s_globals(fsy_cli_t *cli, int argc, char **argv, const char **db,
          const char **config)
{
    static const struct option opts[] = {
        {"db", required_argument, NULL, 'd'},
        {"config", required_argument, NULL, 'c'},
        {"author", required_argument, NULL, 'a'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0}};
    int c;

    /* '+': stop at the first operand, the subcommand, whose options are
     * its own. */
    fsy_cli_getopt_reset();
    while ((c = getopt_long(argc, argv, "+:c:hV", opts, NULL)) != -1) {
        if (c == 'd')
            *db = optarg;
        else if (c == 'c')
            *config = optarg;
        else if (c == 'a')
            cli->author = optarg;
        else if (c == 'h' || c == 'V')
            break;
        else
            return fsy_cli_bad_option(cli, c, argv);
    }
    if (c == 'h')
        s_help();
    if (c == 'V')
        puts("fieldsync " FSY_VERSION_STRING);
    if (c == 'h' || c == 'V')
        return FSY_EXIT_DONE;
    if (optind >= argc)
        return fsy_cli_usagef(cli, "missing COMMAND");
    return FSY_EXIT_OK;
}

/*
 * The configuration: -c, else (with no --db) $FIELDSYNC_CONFIG, else the
 * installed one if it exists and $FIELDSYNC_DB does not say otherwise.
 * cli->where says what was looked at, for "no replica" messages.
 */
static int
s_config(fsy_cli_t *cli, const char *path, const char *db)
{
    bool from_env = false;
    const char *env_db = getenv("FIELDSYNC_DB");
    bool has_env_db = env_db != NULL && env_db[0] != '\0';

    fsy_config_defaults(&cli->cfg);
    if (path == NULL && db == NULL) {
        const char *dflt = fsy_config_default_path(&from_env);
        if (from_env || (!has_env_db && access(dflt, F_OK) == 0))
            path = dflt;
        else
            snprintf(cli->where, sizeof cli->where,
                     "no --db, -c or $FIELDSYNC_CONFIG; %s %s", dflt,
                     has_env_db ? "not read: $FIELDSYNC_DB is set"
                                : "does not exist");
    }
    if (path == NULL)
        return FSY_EXIT_OK;
    fsy_err_clear();
    int err = fsy_config_load(&cli->cfg, path);
    snprintf(cli->where, sizeof cli->where,
             cli->cfg.db[0] ? "[site] db in %s%s" : "%s%s has no [site] db",
             path, from_env ? " ($FIELDSYNC_CONFIG)" : "");
    return fsy_cli_check(cli, err);
}

static const char *
s_db_path(fsy_cli_t *cli, const char *db)
{
    const char *env = getenv("FIELDSYNC_DB");

    if (db != NULL) {
        snprintf(cli->where, sizeof cli->where, "--db");
        return db;
    }
    if (cli->cfg.db[0] != '\0')
        return cli->cfg.db;
    if (env != NULL && env[0] != '\0') {
        snprintf(cli->where, sizeof cli->where, "$FIELDSYNC_DB");
        return env;
    }
    return S_DEFAULT_DB;
}

/* Output that never reached its reader is a failure, e.g. a full disk
 * behind a redirection. */
static int
s_finish(fsy_cli_t *cli, int rc)
{
    fsy_config_free(&cli->cfg);
    if (rc == FSY_EXIT_DONE)
        rc = FSY_EXIT_OK;
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fsy_cli_failf(cli, "cannot write to standard output: %s",
                      strerror(errno));
        if (rc == FSY_EXIT_OK)
            rc = FSY_EXIT_FAIL;
    }
    return rc;
}

/* Help never depends on the configuration: a missing or broken file
 * must not hide how to fix it. */
static bool
s_wants_help(int argc, char **argv)
{
    if (optind < argc && strcmp(argv[optind], "help") == 0)
        return true;
    for (int i = optind + 1; i < argc && strcmp(argv[i], "--") != 0; i++)
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
            return true;
    return false;
}

/* An older replica's upgrade can take minutes: say so on stderr. */
static void
s_notice(const char *msg)
{
    fprintf(stderr, "fieldsync: %s\n", msg);
}

int
main(int argc, char **argv)
{
    fsy_cli_t cli = {.usage = s_usage};
    const char *db = NULL, *config = NULL;
    const s_cmd_t *cmd;
    int rc = s_globals(&cli, argc, argv, &db, &config);

    fsy_store_on_notice(s_notice);
    if (rc == FSY_EXIT_OK && s_wants_help(argc, argv))
        fsy_config_defaults(&cli.cfg);
    else if (rc == FSY_EXIT_OK)
        rc = s_config(&cli, config, db);
    if (rc != FSY_EXIT_OK)
        return s_finish(&cli, rc);
    cli.db = s_db_path(&cli, db);
    argc -= optind;
    argv += optind;
    if (strcmp(argv[0], "help") == 0)
        return s_finish(&cli, s_help_cmd(&cli, argc, argv));
    if ((cmd = s_find(argv[0])) == NULL)
        return s_finish(&cli, s_unknown(&cli, argv[0]));
    cli.cmd = cmd->name;
    return s_finish(&cli, cmd->fn(&cli, argc, argv));
}
