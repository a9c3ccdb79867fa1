/*
 * fieldsync CLI — shared plumbing: messages, the command line, opening the
 * replica, rendering values and times, JSON builders and file helpers.
 * Nothing here knows about a particular subcommand.
 */
#include "common.h"
#include "fieldsync/doc_json.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "fieldsync/error.h"
#include "fieldsync/ident.h"

/* ---- messages ----------------------------------------------------------- */

static void
s_vmsg(const fsy_cli_t *cli, const char *tag, const char *fmt, va_list ap)
{
    fputs("fieldsync: ", stderr);
    if (cli != NULL && cli->cmd != NULL)
        fprintf(stderr, "%s: ", cli->cmd);
    if (tag != NULL)
        fputs(tag, stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

int
fsy_cli_failf(const fsy_cli_t *cli, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    s_vmsg(cli, NULL, fmt, ap);
    va_end(ap);
    return FSY_EXIT_FAIL;
}

static const char *
s_detail(int err)
{
    const char *d = fsy_errdetail();
    return d != NULL && d[0] != '\0' ? d : fsy_strerror(err);
}

int
fsy_cli_fail(const fsy_cli_t *cli, int err)
{
    return fsy_cli_failf(cli, "%s", s_detail(err));
}

int
fsy_cli_failerr(const fsy_cli_t *cli, int err, const char *fmt, ...)
{
    char ctx[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx, sizeof ctx, fmt, ap);
    va_end(ap);
    return fsy_cli_failf(cli, "%s: %s", ctx, s_detail(err));
}

int
fsy_cli_failpath(const fsy_cli_t *cli, int err, const char *what,
                 const char *path)
{
    if (strstr(s_detail(err), path) != NULL)
        return fsy_cli_fail(cli, err);
    return fsy_cli_failf(cli, "%s %s: %s", what, path, s_detail(err));
}

int
fsy_cli_oom(const fsy_cli_t *cli)
{
    return fsy_cli_failf(cli, "out of memory");
}

void
fsy_cli_warnf(const fsy_cli_t *cli, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    s_vmsg(cli, "warning: ", fmt, ap);
    va_end(ap);
}

int
fsy_cli_check(const fsy_cli_t *cli, int err)
{
    return err == FSY_OK ? FSY_EXIT_OK : fsy_cli_fail(cli, err);
}

int
fsy_cli_badargf(const fsy_cli_t *cli, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    s_vmsg(cli, NULL, fmt, ap);
    va_end(ap);
    return FSY_EXIT_USAGE;
}

int
fsy_cli_usagef(const fsy_cli_t *cli, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    s_vmsg(cli, NULL, fmt, ap);
    va_end(ap);
    fprintf(stderr, "usage: %s\n", cli->usage);
    if (cli->cmd != NULL)
        fprintf(stderr, "try 'fieldsync %s --help'\n", cli->cmd);
    else
        fputs("try 'fieldsync --help'\n", stderr);
    return FSY_EXIT_USAGE;
}

int
fsy_cli_bad_option(const fsy_cli_t *cli, int c, char **argv)
{
    /* glibc leaves the offending word at optind - 1; optopt is the short
     * option character, or 0 for an unknown long option. */
    const char *word = argv[optind - 1];
    bool is_long = strncmp(word, "--", 2) == 0;

    if (c == ':' && !is_long)
        return fsy_cli_usagef(cli, "option '-%c' needs a value", optopt);
    if (c == ':')
        return fsy_cli_usagef(cli, "option '%s' needs a value", word);
    if (optopt != 0)
        return fsy_cli_usagef(cli, "unknown option '-%c'", optopt);
    return fsy_cli_usagef(cli, "unknown option '%s'", word);
}

int
fsy_cli_help(const fsy_cli_t *cli, const char *text)
{
    printf("usage: %s\n\n%s", cli->usage, text);
    return FSY_EXIT_DONE;
}

void
fsy_cli_getopt_reset(void)
{
    /* glibc re-initialises its scanner (permutation mode, the position
     * inside grouped short options) only when optind is 0; setting 1 would
     * carry state over from the global options' scan. */
    optind = 0;
    opterr = 0;
}

int
fsy_cli_json_only(fsy_cli_t *cli, int argc, char **argv, const char *help,
                  bool *json)
{
    enum { OPT_JSON_ONLY = 256 };
    static const struct option opts[] = {
        {"json", no_argument, NULL, OPT_JSON_ONLY},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int c;

    *json = false;
    fsy_cli_getopt_reset();
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if (c == OPT_JSON_ONLY)
            *json = true;
        else if (c == 'h')
            return fsy_cli_help(cli, help);
        else
            return fsy_cli_bad_option(cli, c, argv);
    }
    return fsy_cli_operands(cli, argc, argv, 0, "no operands");
}

int
fsy_cli_operands(const fsy_cli_t *cli, int argc, char **argv, int n,
                 const char *names)
{
    int have = argc - optind;

    if (have < n)
        return fsy_cli_usagef(cli, "expected %s", names);
    if (have > n)
        return fsy_cli_usagef(cli, "unexpected argument '%s'",
                              argv[optind + n]);
    return FSY_EXIT_OK;
}

int
fsy_cli_parse_assign(const fsy_cli_t *cli, const char *opt, const char *arg,
                     char **field, const char **value)
{
    const char *eq = strchr(arg, '=');

    *field = NULL;
    if (eq == NULL)
        return fsy_cli_badargf(cli, "%s '%.60s': expected FIELD=VALUE", opt,
                               arg);
    if (eq == arg)
        return fsy_cli_badargf(cli, "%s '%.60s': empty field name", opt, arg);
    *field = strndup(arg, (size_t)(eq - arg));
    if (*field == NULL)
        return fsy_cli_oom(cli);
    *value = eq + 1;
    return fsy_cli_check(cli, fsy_check_field(*field, false));
}

/* ---- the replica -------------------------------------------------------- */

size_t
fsy_cli_value_limit(const fsy_cli_t *cli)
{
    size_t m = cli->cfg.max_value_bytes;
    return m == 0 || m > FSY_VALUE_MAX ? FSY_VALUE_MAX : m;
}

const char *
fsy_cli_author(const fsy_cli_t *cli)
{
    const char *env = getenv("FIELDSYNC_AUTHOR");
    if (cli->author != NULL)
        return cli->author;
    if (cli->cfg.author[0] != '\0')
        return cli->cfg.author;
    if (env != NULL && env[0] != '\0')
        return env;
    const struct passwd *pw = getpwuid(geteuid());
    if (pw != NULL && pw->pw_name != NULL &&
        fsy_check_author(pw->pw_name) == FSY_OK)
        return pw->pw_name;
    return "";
}

int
fsy_cli_open(const fsy_cli_t *cli, fsy_store_t **out)
{
    int err;

    fsy_err_clear();
    err = fsy_store_open(out, cli->db);
    if (err == FSY_ENOTFOUND)
        return fsy_cli_failf(cli,
                             "no replica at %s (%s): create one with "
                             "'fieldsync init --site SITE', or name "
                             "another with --db PATH or -c CONFIG",
                             cli->db, cli->where);
    if (err != FSY_OK)
        return fsy_cli_failpath(cli, err, "cannot open replica", cli->db);
    if (fsy_store_set_author(*out, fsy_cli_author(cli)) != FSY_OK) {
        fsy_store_close(out);
        return fsy_cli_badargf(cli,
                               "%s: give --author NAME or set "
                               "$FIELDSYNC_AUTHOR",
                               fsy_errdetail());
    }
    fsy_store_set_max_value(*out, fsy_cli_value_limit(cli));
    fsy_store_set_max_clock_skew(*out, cli->cfg.max_clock_skew_ms);
    fsy_store_set_write_scopes(*out, cli->cfg.write_scopes);
    /* Only a file that says [merge] changes the replica's rule: without
     * one the tool follows what the daemon set. */
    if (cli->cfg.whole_value_fields_set &&
        fsy_store_set_whole_value_fields(*out, cli->cfg.whole_value_fields) !=
            FSY_OK) {
        fsy_store_close(out);
        return fsy_cli_failf(cli, "cannot apply the config's [merge]: %s",
                             fsy_errdetail());
    }
    return FSY_EXIT_OK;
}

int
fsy_cli_find_doc(const fsy_cli_t *cli, fsy_store_t *s, const char *doc,
                 const char *scope, const char *hint,
                 char out[FSY_SCOPE_MAX + 1])
{
    int err;

    fsy_err_clear();
    err = fsy_store_find_doc(s, doc, scope, out);
    if (err == FSY_OK)
        return FSY_EXIT_OK;
    if (err == FSY_ENOTFOUND)
        return fsy_cli_failf(cli, "no document '%s'%s%s%s%s", doc,
                             scope ? " in scope " : "", scope ? scope : "",
                             hint ? ": " : "", hint ? hint : "");
    if (err == FSY_EAMBIGUOUS && strstr(s_detail(err), "--scope") != NULL)
        return fsy_cli_fail(cli, err);
    if (err == FSY_EAMBIGUOUS)
        return fsy_cli_failf(cli, "%s: choose one with --scope", s_detail(err));
    return fsy_cli_fail(cli, err);
}

int
fsy_cli_open_doc(const fsy_cli_t *cli, const char *doc, const char *scope,
                 fsy_store_t **s, char scope_out[FSY_SCOPE_MAX + 1])
{
    int rc = fsy_cli_check(cli, fsy_check_doc_id(doc));

    if (rc == FSY_EXIT_OK && scope != NULL)
        rc = fsy_cli_check(cli, fsy_check_scope(scope));
    if (rc == FSY_EXIT_OK)
        rc = fsy_cli_open(cli, s);
    if (rc == FSY_EXIT_OK)
        rc = fsy_cli_find_doc(cli, *s, doc, scope, NULL, scope_out);
    if (rc != FSY_EXIT_OK)
        fsy_store_close(s);
    return rc;
}

/* ---- rendering for people ----------------------------------------------- */

bool
fsy_cli_is_text(const uint8_t *v, size_t n)
{
    if (n == 0)
        return true;
    return memchr(v, 0, n) == NULL && fsy_utf8_valid(v, n);
}

/* Length of the UTF-8 sequence led by b (the input is known valid). */
static size_t
s_seq_len(uint8_t b)
{
    if (b < 0x80)
        return 1;
    if (b < 0xE0)
        return 2;
    return b < 0xF0 ? 3 : 4;
}

/* C0 controls, DEL, and C1 controls (U+0080..U+009F: C2 80..C2 9F). */
static bool
s_is_control(const uint8_t *p, size_t len)
{
    if (len == 1)
        return p[0] < 0x20 || p[0] == 0x7f;
    return len == 2 && p[0] == 0xC2 && p[1] < 0xA0;
}

/*
 * Values come from any site, so a control character could move the cursor
 * or rewrite the screen of whoever reads them: show it escaped instead.
 */
static void
s_put_escaped(FILE *f, const uint8_t *p, size_t len)
{
    if (len == 1)
        fprintf(f, "\\x%02x", p[0]);
    else
        fprintf(f, "\\u%04x", ((p[0] & 0x1Fu) << 6) | (p[1] & 0x3Fu));
}

/* One character of text, laid out over several lines when it is '\n'. */
static void
s_put_text_char(FILE *f, const uint8_t *v, size_t n, size_t i, size_t len,
                size_t indent)
{
    if (v[i] == '\n') {
        if (i + 1 < n) /* a final newline would only add a blank line */
            fprintf(f, "\n%*s", (int)indent, "");
    } else if (v[i] == '\r' && i + 1 < n && v[i + 1] == '\n') {
        /* CRLF text reads like LF text */
    } else if (v[i] == '\t') {
        fputc('\t', f);
    } else if (s_is_control(v + i, len)) {
        s_put_escaped(f, v + i, len);
    } else {
        fwrite(v + i, 1, len, f);
    }
}

void
fsy_cli_print_value(FILE *f, const uint8_t *v, size_t n, bool absent, bool ref,
                    size_t indent)
{
    size_t i, len;

    if (absent) {
        fputs("(removed)", f);
        return;
    }
    if (ref) {
        fsy_cli_print_ref(f, v, n);
        return;
    }
    if (!fsy_cli_is_text(v, n)) {
        fprintf(f, "<%zu bytes, binary>", n);
        return;
    }
    for (i = 0; i < n; i += len) {
        len = s_seq_len(v[i]);
        s_put_text_char(f, v, n, i, len, indent);
    }
}

void
fsy_cli_print_oneline(FILE *f, const uint8_t *v, size_t n, bool absent,
                      bool ref, size_t max)
{
    size_t i, len, shown = 0;

    if (absent || ref || !fsy_cli_is_text(v, n)) {
        fsy_cli_print_value(f, v, n, absent, ref, 0);
        return;
    }
    for (i = 0; i < n; i += len, shown++) {
        len = s_seq_len(v[i]);
        if (shown == max) {
            fputs("…", f);
            return;
        }
        if (v[i] == '\n' || v[i] == '\t')
            fputs(v[i] == '\n' ? "\\n" : " ", f);
        else if (s_is_control(v + i, len))
            s_put_escaped(f, v + i, len);
        else
            fwrite(v + i, 1, len, f);
    }
}

void
fsy_cli_print_marked(FILE *f, const char *s, const char *on, const char *off)
{
    const uint8_t *v = (const uint8_t *)s;
    size_t n = strlen(s), len;
    for (size_t i = 0; i < n; i += len) {
        len = s_seq_len(v[i]);
        if (i + len > n)
            return; /* cut inside a character: nothing more to show */
        if (v[i] == 0x02 || v[i] == 0x03)
            fputs(v[i] == 0x02 ? on : off, f);
        else if (v[i] == '\n' || v[i] == '\r' || v[i] == '\t')
            fputc(' ', f);
        else if (s_is_control(v + i, len))
            s_put_escaped(f, v + i, len);
        else
            fwrite(v + i, 1, len, f);
    }
}

void
fsy_cli_print_winner(FILE *f, const fsy_field_t *fld, size_t indent)
{
    const fsy_head_t *h = fsy_field_shown(fld);
    fsy_cli_print_value(f, h->value, h->value_len, h->absent, h->ref, indent);
}

size_t
fsy_cli_width(const char *s)
{
    size_t w = 0;

    for (; *s != '\0'; s++)
        w += ((unsigned char)*s & 0xC0) != 0x80;
    return w;
}

void
fsy_cli_widen(size_t *w, const char *s)
{
    size_t n = fsy_cli_width(s);
    if (n > *w)
        *w = n;
}

void
fsy_cli_pad(FILE *f, const char *s, size_t width)
{
    size_t w = fsy_cli_width(s);

    fputs(s, f);
    fprintf(f, "%*s", (int)(w < width ? width - w + 2 : 2), "");
}

const char *
fsy_cli_time(uint64_t hlc, bool ms, char buf[FSY_CLI_TIME_LEN])
{
    uint64_t msec = hlc >> 16; /* high 48 bits: wall-clock milliseconds */
    time_t t = (time_t)(msec / 1000);
    struct tm tm;
    size_t n;

    if (gmtime_r(&t, &tm) == NULL) {
        snprintf(buf, FSY_CLI_TIME_LEN, "?");
        return buf;
    }
    n = strftime(buf, FSY_CLI_TIME_LEN, "%Y-%m-%dT%H:%M:%S", &tm);
    if (ms)
        snprintf(buf + n, FSY_CLI_TIME_LEN - n, ".%03uZ",
                 (unsigned)(msec % 1000));
    else
        snprintf(buf + n, FSY_CLI_TIME_LEN - n, "Z");
    return buf;
}

const char *
fsy_cli_label(const fsy_version_t *v, char buf[FSY_CLI_LABEL_LEN])
{
    return fsy_version_label(v, buf, FSY_CLI_LABEL_LEN);
}

const char *
fsy_cli_hex64(uint64_t x, char buf[FSY_CLI_HEX64_LEN])
{
    snprintf(buf, FSY_CLI_HEX64_LEN, "%016llx", (unsigned long long)x);
    return buf;
}

/* ---- JSON --------------------------------------------------------------- */

bool
fsy_cli_jadd(cJSON *obj, const char *key, cJSON *item)
{
    if (item == NULL)
        return false;
    if (obj == NULL || !cJSON_AddItemToObject(obj, key, item)) {
        cJSON_Delete(item);
        return false;
    }
    return true;
}

bool
fsy_cli_jpush(cJSON *arr, cJSON *item)
{
    if (item == NULL)
        return false;
    if (arr == NULL || !cJSON_AddItemToArray(arr, item)) {
        cJSON_Delete(item);
        return false;
    }
    return true;
}

bool
fsy_cli_jstr(cJSON *obj, const char *key, const char *val)
{
    return fsy_cli_jadd(obj, key, cJSON_CreateString(val));
}

bool
fsy_cli_jnum(cJSON *obj, const char *key, double val)
{
    return fsy_cli_jadd(obj, key, cJSON_CreateNumber(val));
}

bool
fsy_cli_jbool(cJSON *obj, const char *key, bool val)
{
    return fsy_cli_jadd(obj, key, cJSON_CreateBool(val));
}

bool
fsy_cli_jtime(cJSON *obj, const char *key, uint64_t hlc)
{
    char t[FSY_CLI_TIME_LEN];
    return fsy_cli_jstr(obj, key, fsy_cli_time(hlc, true, t));
}

cJSON *
fsy_cli_json_value(const uint8_t *v, size_t n, bool absent, bool ref)
{
    return fsy_value_json(v, n, absent, ref);
}

int
fsy_cli_json_print(const fsy_cli_t *cli, cJSON *root, bool ok)
{
    char *text = ok && root != NULL ? cJSON_Print(root) : NULL;

    cJSON_Delete(root);
    if (text == NULL)
        return fsy_cli_oom(cli);
    puts(text);
    cJSON_free(text);
    return FSY_EXIT_OK;
}

/* ---- files -------------------------------------------------------------- */

static int
s_too_big(const fsy_cli_t *cli, const char *path, size_t limit,
          const char *what, long long size)
{
    if (size < 0)
        return fsy_cli_failf(cli, "%s is over the %zu-byte limit for %s", path,
                             limit, what);
    return fsy_cli_failf(cli,
                         "%s is %lld bytes, over the %zu-byte limit for %s",
                         path, size, limit, what);
}

/* Reads up to limit + 1 bytes (one more than allowed, to detect excess). */
static int
s_read_fd(int fd, uint8_t **buf, size_t *len, size_t cap, size_t limit)
{
    ssize_t r;
    uint8_t *p;

    for (;;) {
        if (*len == cap) {
            if (cap > limit)
                return 0;
            cap = cap * 2 > limit + 1 ? limit + 1 : cap * 2;
            if ((p = realloc(*buf, cap + 1)) == NULL)
                return ENOMEM;
            *buf = p;
        }
        r = read(fd, *buf + *len, cap - *len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return errno;
        if (r == 0)
            return 0;
        *len += (size_t)r;
    }
}

static int
s_read_open(const fsy_cli_t *cli, int fd, const char *path, size_t limit,
            const char *what, uint8_t **out, size_t *len)
{
    struct stat st;
    size_t cap = 65536;
    int e;

    if (fstat(fd, &st) != 0)
        return fsy_cli_failf(cli, "cannot read %s: %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode))
        return fsy_cli_failf(cli, "%s is a directory", path);
    if (S_ISREG(st.st_mode) && (uint64_t)st.st_size > limit)
        return s_too_big(cli, path, limit, what, (long long)st.st_size);
    if (S_ISREG(st.st_mode))
        cap = (size_t)st.st_size + 1; /* +1 notices a file that grew */
    if (cap > limit + 1)
        cap = limit + 1;
    if ((*out = malloc(cap + 1)) == NULL)
        return fsy_cli_oom(cli);
    *len = 0;
    e = s_read_fd(fd, out, len, cap, limit);
    if (e == 0 && *len > limit)
        return s_too_big(cli, path, limit, what, -1);
    if (e != 0)
        return fsy_cli_failf(cli, "cannot read %s: %s", path, strerror(e));
    (*out)[*len] = '\0';
    return FSY_EXIT_OK;
}

int
fsy_cli_read_file(const fsy_cli_t *cli, const char *path, size_t limit,
                  const char *what, uint8_t **out, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    int rc;

    *out = NULL;
    *len = 0;
    if (fd < 0)
        return fsy_cli_failf(cli, "cannot open %s: %s", path, strerror(errno));
    rc = s_read_open(cli, fd, path, limit, what, out, len);
    close(fd);
    if (rc != FSY_EXIT_OK) {
        free(*out);
        *out = NULL;
    }
    return rc;
}

/* mkstemp creates 0600; give the file the mode open(2) would have, but
 * never more than the replica's own: what comes out of a replica is as
 * private as the replica (0640 for the daemon's). */
static void
s_default_mode(const fsy_cli_t *cli, int fd)
{
    mode_t mask = umask(0), mode;
    struct stat st;
    umask(mask);
    mode = 0666 & ~mask;
    if (cli->db != NULL && stat(cli->db, &st) == 0)
        mode &= st.st_mode & 0666;
    (void)fchmod(fd, mode);
}

/* The rename is durable only once the directory entry is on disk. Best
 * effort: some file systems refuse fsync on a directory. */
static void
s_sync_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash == NULL   ? strdup(".")
                : slash == path ? strdup("/")
                                : strndup(path, (size_t)(slash - path));
    int fd = dir ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;

    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    free(dir);
}

int
fsy_cli_out_open(const fsy_cli_t *cli, const char *path, fsy_cli_out_t *o)
{
    size_t n = strlen(path) + sizeof ".tmp-XXXXXX";
    int fd, e;

    o->f = NULL;
    o->path = path;
    if ((o->tmp = malloc(n)) == NULL)
        return fsy_cli_oom(cli);
    snprintf(o->tmp, n, "%s.tmp-XXXXXX", path);
    fd = mkstemp(o->tmp);
    if (fd >= 0) {
        s_default_mode(cli, fd);
        if ((o->f = fdopen(fd, "wb")) == NULL) {
            e = errno;
            close(fd);
            unlink(o->tmp);
            errno = e;
        }
    }
    if (o->f != NULL)
        return FSY_EXIT_OK;
    e = errno;
    free(o->tmp);
    o->tmp = NULL;
    return fsy_cli_failf(cli, "cannot create %s: %s", path, strerror(e));
}

int
fsy_cli_out_commit(const fsy_cli_t *cli, fsy_cli_out_t *o)
{
    bool ok;
    int e;

    errno = 0;
    ok = fflush(o->f) == 0 && !ferror(o->f) && fsync(fileno(o->f)) == 0;
    e = errno;
    if (fclose(o->f) != 0 && ok) {
        ok = false;
        e = errno;
    }
    o->f = NULL;
    if (ok && rename(o->tmp, o->path) != 0) {
        ok = false;
        e = errno;
    }
    if (ok)
        s_sync_dir(o->path);
    else
        unlink(o->tmp);
    free(o->tmp);
    o->tmp = NULL;
    if (!ok)
        return fsy_cli_failf(cli, "cannot write %s: %s", o->path,
                             strerror(e != 0 ? e : EIO));
    return FSY_EXIT_OK;
}

void
fsy_cli_out_abort(fsy_cli_out_t *o)
{
    if (o->f != NULL)
        fclose(o->f);
    if (o->tmp != NULL)
        unlink(o->tmp);
    free(o->tmp);
    o->f = NULL;
    o->tmp = NULL;
}

int
fsy_cli_write_file(const fsy_cli_t *cli, const char *path, const void *buf,
                   size_t len)
{
    fsy_cli_out_t o;
    int rc = fsy_cli_out_open(cli, path, &o);

    if (rc != FSY_EXIT_OK)
        return rc;
    if (fwrite(buf, 1, len, o.f) != len) {
        int e = errno;
        fsy_cli_out_abort(&o);
        return fsy_cli_failf(cli, "cannot write %s: %s", path, strerror(e));
    }
    return fsy_cli_out_commit(cli, &o);
}
