/*
 * prom_lint — checks a Prometheus text exposition (format 0.0.4) read from
 * stdin, written against the format's specification and promtool's
 * `check metrics` rules:
 *
 *   - every line is a comment, a HELP or TYPE line, or a sample
 *     `name{label="value",...} value [timestamp]`;
 *   - names and label names use the allowed characters; label values use
 *     only the \\ \" \n escapes; values parse as floats (NaN, +Inf, -Inf);
 *   - TYPE is one of counter, gauge, histogram, summary, untyped, given at
 *     most once per family and before its samples; HELP at most once;
 *   - a family's samples are contiguous; no series appears twice; no label
 *     name repeats within a sample;
 *   - lint: every family has HELP; counters end in _total.
 *
 * On success prints one line per family, "NAME TYPE SAMPLES", and exits 0;
 * otherwise prints "line N: problem" for the first problem and exits 1.
 */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FAMILIES 512
#define MAX_SERIES 65536

typedef struct family {
    char name[128];
    char type[16];
    bool help;
    int samples;
    bool closed; /* another family's samples came after its own */
} family_t;

static family_t fams[MAX_FAMILIES];
static int n_fams;
static char *series[MAX_SERIES];
static int n_series;
static int lineno;
static int current = -1; /* family of the last sample */

static int
fail(const char *what, const char *detail)
{
    printf("line %d: %s%s%s\n", lineno, what, detail ? ": " : "",
           detail ? detail : "");
    exit(1);
}

static family_t *
family(const char *name, bool create)
{
    for (int i = 0; i < n_fams; i++)
        if (strcmp(fams[i].name, name) == 0)
            return &fams[i];
    if (!create)
        return NULL;
    if (n_fams == MAX_FAMILIES)
        fail("too many families", NULL);
    family_t *f = &fams[n_fams++];
    snprintf(f->name, sizeof f->name, "%s", name);
    return f;
}

static bool
name_start(int c, bool colon)
{
    return isalpha(c) || c == '_' || (colon && c == ':');
}

static bool
name_char(int c, bool colon)
{
    return isalnum(c) || c == '_' || (colon && c == ':');
}

/* Reads a metric name (colon) or label name at *p into out. */
static void
read_name(const char **p, char *out, size_t size, bool colon, const char *what)
{
    const char *s = *p;
    size_t n = 0;
    if (!name_start((unsigned char)*s, colon))
        fail("bad name start", what);
    while (name_char((unsigned char)s[n], colon))
        n++;
    if (n >= size)
        fail("name too long", what);
    memcpy(out, s, n);
    out[n] = '\0';
    *p = s + n;
}

static void
check_value(const char *v)
{
    if (strcmp(v, "NaN") == 0 || strcmp(v, "+Inf") == 0 ||
        strcmp(v, "-Inf") == 0 || strcmp(v, "Inf") == 0)
        return;
    char *end;
    errno = 0;
    strtod(v, &end);
    if (*v == '\0' || *end != '\0' || errno == ERANGE)
        fail("value is not a float", v);
    for (const char *c = v; *c; c++)
        if (isalpha((unsigned char)*c) && *c != 'e' && *c != 'E')
            fail("value is not a float", v);
}

static void
comment(const char *line)
{
    char kw[8], name[128];
    const char *p = line + 1;
    while (*p == ' ' || *p == '\t')
        p++;
    if (sscanf(p, "%7s", kw) != 1 ||
        (strcmp(kw, "HELP") != 0 && strcmp(kw, "TYPE") != 0))
        return; /* a plain comment */
    p += 4;
    if (*p != ' ')
        fail("HELP/TYPE without a name", NULL);
    p++;
    read_name(&p, name, sizeof name, true, "HELP/TYPE");
    family_t *f = family(name, true);
    if (strcmp(kw, "HELP") == 0) {
        if (f->help)
            fail("second HELP", name);
        f->help = true;
        return;
    }
    if (f->type[0] != '\0')
        fail("second TYPE", name);
    if (f->samples > 0)
        fail("TYPE after samples", name);
    static const char *const types[] = {"counter", "gauge", "histogram",
                                        "summary", "untyped"};
    if (*p++ != ' ')
        fail("TYPE without a type", name);
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (strcmp(p, types[i]) == 0) {
            snprintf(f->type, sizeof f->type, "%s", p);
            return;
        }
    fail("unknown type", p);
}

/* label="value" pairs up to '}'; appends a canonical form to key. */
static void
labels(const char **pp, char *key, size_t size)
{
    const char *p = *pp;
    char seen[32][128];
    int n = 0;
    while (*p != '}') {
        char lname[128];
        read_name(&p, lname, sizeof lname, false, "label");
        if (lname[0] == '_' && lname[1] == '_')
            fail("reserved label name", lname);
        for (int i = 0; i < n; i++)
            if (strcmp(seen[i], lname) == 0)
                fail("label repeated", lname);
        if (n < 32)
            snprintf(seen[n++], sizeof seen[0], "%s", lname);
        if (*p++ != '=' || *p++ != '"')
            fail("label without =\"", lname);
        strncat(key, lname, size - strlen(key) - 1);
        strncat(key, "=", size - strlen(key) - 1);
        for (; *p != '"'; p++) {
            if (*p == '\0')
                fail("unterminated label value", lname);
            if (*p == '\\') {
                p++;
                if (*p != '\\' && *p != '"' && *p != 'n')
                    fail("bad escape in label value", lname);
            }
            char c[2] = {*p, 0};
            strncat(key, c, size - strlen(key) - 1);
        }
        p++;
        strncat(key, ",", size - strlen(key) - 1);
        if (*p == ',')
            p++;
        else if (*p != '}')
            fail("expected , or }", lname);
    }
    *pp = p + 1;
}

/* The family a sample belongs to: histograms and summaries add suffixes. */
static family_t *
owner(const char *name)
{
    family_t *f = family(name, false);
    if (f != NULL)
        return f;
    static const char *const sfx[] = {"_bucket", "_sum", "_count"};
    for (size_t i = 0; i < 3; i++) {
        size_t n = strlen(name), k = strlen(sfx[i]);
        if (n > k && strcmp(name + n - k, sfx[i]) == 0) {
            char base[128];
            snprintf(base, sizeof base, "%.*s", (int)(n - k), name);
            if ((f = family(base, false)) != NULL)
                return f;
        }
    }
    return family(name, true); /* untyped */
}

static void
sample(const char *line)
{
    char name[128], key[4096];
    const char *p = line;
    read_name(&p, name, sizeof name, true, "metric");
    snprintf(key, sizeof key, "%s{", name);
    if (*p == '{') {
        p++;
        labels(&p, key, sizeof key);
    }
    if (*p != ' ' && *p != '\t')
        fail("no value", name);
    while (*p == ' ' || *p == '\t')
        p++;
    char value[64], ts[64], extra[8];
    int got = sscanf(p, "%63s %63s %7s", value, ts, extra);
    if (got < 1 || got > 2)
        fail("want a value and an optional timestamp", name);
    check_value(value);
    if (got == 2)
        for (const char *c = ts[0] == '-' ? ts + 1 : ts; *c; c++)
            if (!isdigit((unsigned char)*c))
                fail("timestamp is not an integer", ts);
    family_t *f = owner(name);
    int idx = (int)(f - fams);
    if (f->closed || (current != idx && f->samples > 0))
        fail("samples of a family are not together", f->name);
    if (current >= 0 && current != idx)
        fams[current].closed = true;
    current = idx;
    f->samples++;
    for (int i = 0; i < n_series; i++)
        if (strcmp(series[i], key) == 0)
            fail("series appears twice", key);
    if (n_series < MAX_SERIES)
        series[n_series++] = strdup(key);
}

int
main(void)
{
    char line[8192];
    while (fgets(line, sizeof line, stdin) != NULL) {
        lineno++;
        size_t n = strlen(line);
        if (n == 0 || line[n - 1] != '\n')
            fail("line too long or not ended by a newline", NULL);
        line[n - 1] = '\0';
        if (line[0] == '\0')
            continue;
        if (line[0] == '#')
            comment(line);
        else
            sample(line);
    }
    if (n_fams == 0)
        fail("no metrics", NULL);
    for (int i = 0; i < n_fams; i++) {
        family_t *f = &fams[i];
        if (!f->help)
            fail("no HELP (promtool: no help text)", f->name);
        if (strcmp(f->type, "counter") == 0) {
            size_t k = strlen(f->name);
            if (k < 6 || strcmp(f->name + k - 6, "_total") != 0)
                fail("counter without _total (promtool lint)", f->name);
        }
        printf("%s %s %d\n", f->name, f->type[0] ? f->type : "untyped",
               f->samples);
    }
    for (int i = 0; i < n_series; i++)
        free(series[i]);
    return 0;
}
