/*
 * fieldsync — [alert] command. See alert.h.
 */
#include <inttypes.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "alert.h"
#include "fieldsync/ident.h"
#include "log.h"

static fsy_alert_site_t *
s_site(fsy_alerts_t *a, const char *site)
{
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->v[i].site, site) == 0)
            return &a->v[i];
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 16;
        fsy_alert_site_t *v = realloc(a->v, cap * sizeof *v);
        if (v == NULL)
            return NULL;
        a->v = v;
        a->cap = cap;
    }
    fsy_alert_site_t *s = &a->v[a->n++];
    memset(s, 0, sizeof *s);
    snprintf(s->site, sizeof s->site, "%s", site);
    s->told = FSY_LEVEL_GREEN; /* first seen otherwise: a change */
    return s;
}

/* NAME=value into buf; the value is cleaned (it may quote a peer). */
static char *
s_var(char *buf, size_t len, const char *name, const char *value)
{
    snprintf(buf, len, "%s=%s", name, value);
    fsy_text_clean(buf);
    return buf;
}

/* Starts the command for row r; false if it could not be started. */
static bool
s_run(fsy_alerts_t *a, const char *command, const char *self,
      const fsy_site_row_t *r, fsy_level_t before)
{
    char why[400], as_of[32], contact[32];
    enum { N_VARS = 9 };
    char vars[N_VARS][480];
    snprintf(why, sizeof why, "%s%s%s", r->why, r->last_error[0] ? ": " : "",
             r->last_error);
    fsy_log_iso(r->as_of_ms, as_of, sizeof as_of);
    fsy_log_iso(r->last_contact_ms, contact, sizeof contact);
    char *envp[N_VARS + 1] = {
        s_var(vars[0], sizeof vars[0], "PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
        s_var(vars[1], sizeof vars[1], "FIELDSYNC_ALERT_FROM", self),
        s_var(vars[2], sizeof vars[2], "FIELDSYNC_ALERT_SITE", r->site),
        s_var(vars[3], sizeof vars[3], "FIELDSYNC_ALERT_ROLE", r->role),
        s_var(vars[4], sizeof vars[4], "FIELDSYNC_ALERT_HEALTH",
              fsy_level_name(r->level)),
        s_var(vars[5], sizeof vars[5], "FIELDSYNC_ALERT_PREVIOUS",
              fsy_level_name(before)),
        s_var(vars[6], sizeof vars[6], "FIELDSYNC_ALERT_WHY", why),
        s_var(vars[7], sizeof vars[7], "FIELDSYNC_ALERT_AS_OF", as_of),
        s_var(vars[8], sizeof vars[8], "FIELDSYNC_ALERT_LAST_CONTACT", contact),
        NULL};
    char *argv[] = {(char *)command, NULL};
    pid_t pid;
    int rc = posix_spawn(&pid, command, NULL, NULL, argv, envp);
    if (rc != 0) {
        fsy_log("warn", "alert", "site=%s command=%s error=\"%s\"", r->site,
                command, strerror(rc));
        return false;
    }
    a->running++;
    fsy_log("info", "alert", "site=%s health=%s previous=%s pid=%d", r->site,
            fsy_level_name(r->level), fsy_level_name(before), (int)pid);
    return true;
}

void
fsy_alerts_check(fsy_alerts_t *a, const char *command, const char *self,
                 const fsy_status_view_t *v)
{
    if (command[0] == '\0')
        return;
    for (size_t i = 0; i < v->n; i++) {
        const fsy_site_row_t *r = &v->rows[i];
        fsy_alert_site_t *s = s_site(a, r->site);
        if (s == NULL || r->level == s->told)
            continue;
        if ((s->run_ms != 0 && v->now_ms - s->run_ms < FSY_ALERT_GAP_MS) ||
            a->running >= FSY_ALERT_RUNNING_MAX)
            continue;          /* told later, if it still stands */
        s->run_ms = v->now_ms; /* a failed start is tried in a minute */
        if (s_run(a, command, self, r, s->told))
            s->told = r->level;
    }
}

void
fsy_alerts_reap(fsy_alerts_t *a)
{
    int status;
    pid_t pid;
    while (a->running > 0 && (pid = waitpid(-1, &status, WNOHANG)) > 0) {
        a->running--;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            fsy_log("warn", "alert", "pid=%d status=%d", (int)pid,
                    WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    }
}

void
fsy_alerts_free(fsy_alerts_t *a)
{
    free(a->v);
    memset(a, 0, sizeof *a);
}
