/*
 * fieldsync — the status page served at /: one self-contained HTML
 * document (no scripts, fonts or styles from elsewhere: field offices and
 * operations rooms may have no Internet), rendered on the server so it
 * works without JavaScript, and reloading itself with a meta refresh.
 * One row per site, worst first; every text from the replica is escaped.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "html.h"
#include "status_page.h"
#include "fieldsync/version.h"

static const char s_head[] =
    "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
    "<meta name=\"viewport\" content=\"width=device-width, "
    "initial-scale=1\">\n"
    "<meta http-equiv=\"refresh\" content=\"%u\">\n"
    "<title>fieldsync: %s</title>\n<style>\n"
    "body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}\n"
    "table{border-collapse:collapse;width:100%%}\n"
    "th,td{padding:.35em .6em;border-bottom:1px solid #ddd;"
    "text-align:left}\n"
    "th{background:#f4f4f4}td.n{text-align:right;"
    "font-variant-numeric:tabular-nums}\n"
    "tr.green td.h{background:#2e7d32;color:#fff}\n"
    "tr.amber td.h{background:#f9a825;color:#000}\n"
    "tr.red td.h{background:#c62828;color:#fff}\n"
    ".muted{color:#666}\n"
    "</style></head><body>\n";

static int
s_cmp(const void *a, const void *b)
{
    const fsy_site_row_t *x = *(const fsy_site_row_t *const *)a;
    const fsy_site_row_t *y = *(const fsy_site_row_t *const *)b;
    if (x->level != y->level)
        return x->level > y->level ? -1 : 1;
    /* then the longest silence first: 0 (never) is the longest */
    if (x->last_contact_ms != y->last_contact_ms)
        return x->last_contact_ms < y->last_contact_ms ? -1 : 1;
    return strcmp(x->site, y->site);
}

static void
s_row(FILE *f, const fsy_site_row_t *r, uint64_t now)
{
    char age[32];
    const char *level = fsy_level_name(r->level);
    fprintf(f, "<tr class=\"%s\" data-site=\"", level);
    fsy_html_esc(f, r->site);
    fprintf(f, "\" data-state=\"%s\"><td class=\"h\">%s</td><td>", r->state,
            level);
    fsy_html_esc(f, r->site);
    fprintf(f, "</td><td>%s", r->role);
    if (strcmp(r->role, "below") == 0 && r->via[0] != '\0') {
        fputs(" <span class=\"muted\">via ", f);
        fsy_html_esc(f, r->via);
        fputs("</span>", f);
    }
    fprintf(f, "</td><td>%s</td><td>%s</td>", r->state,
            strcmp(r->role, "self") == 0
                ? "-"
                : fsy_age(r->last_contact_ms, now, age, sizeof age));
    fprintf(f,
            "<td class=\"n\">%" PRIu64 "</td><td class=\"n\">%" PRIu64 "</td>",
            r->behind, r->ahead);
    if (r->reported || strcmp(r->role, "self") == 0)
        fprintf(f, "<td class=\"n\">%" PRIu64 "</td>", r->conflicts);
    else
        fputs("<td class=\"n muted\">?</td>", f);
    fprintf(f, "<td>%s</td>",
            r->as_of_ms ? fsy_age(r->as_of_ms, now, age, sizeof age) : "-");
    if (r->offset_known && strcmp(r->role, "self") != 0)
        fprintf(f, "<td class=\"n\">%+.1f s</td><td>",
                r->clock_offset_ms / 1e3);
    else
        fputs("<td class=\"n muted\">-</td><td>", f);
    fsy_html_esc(f, r->why);
    char moving[160];
    if (fsy_transfer_text(r, moving, sizeof moving)[0] != '\0') {
        fputs(r->why[0] ? "<br>" : "", f);
        fsy_html_esc(f, moving);
    }
    if (r->courier_ms != 0 && strcmp(r->role, "courier") != 0)
        fprintf(f, "%sby courier too: last bundle imported %s",
                r->why[0] ? "<br>" : "",
                fsy_age(r->courier_ms, now, age, sizeof age));
    if (r->last_error[0] != '\0') {
        fputs(r->why[0] ? "<br><span class=\"muted\">"
                        : "<span class=\"muted\">",
              f);
        fsy_html_esc(f, r->last_error);
        fputs("</span>", f);
    }
    fputs("</td></tr>\n", f);
}

char *
fsy_status_page_render(const fsy_status_view_t *v, unsigned refresh_s)
{
    const fsy_site_row_t **order = malloc((v->n ? v->n : 1) * sizeof *order);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = order ? open_memstream(&buf, &len) : NULL;
    if (f == NULL) {
        free(order);
        return NULL;
    }
    for (size_t i = 0; i < v->n; i++)
        order[i] = &v->rows[i];
    qsort(order, v->n, sizeof *order, s_cmp);
    fprintf(f, s_head, refresh_s, v->site);
    fprintf(f,
            "<h1>fieldsync at %s</h1>\n<p class=\"muted\">%" PRIu64
            " changes, %" PRIu64 " documents, %" PRIu64
            " open conflicts here; fieldsyncd %s; this page reloads every "
            "%u s. <a href=\"/docs\">Documents</a></p>\n",
            v->site, v->counts.changes, v->counts.documents,
            v->counts.conflicts, FSY_VERSION_STRING, refresh_s);
    char note[256]; /* digits and our words: nothing to escape */
    if (fsy_index_pending_text(&v->counts, note, sizeof note)[0])
        fprintf(f, "<p id=\"index-pending\">%s.</p>\n", note);
    fputs("<table id=\"sites\"><thead><tr><th>Health</th><th>Site</th>"
          "<th>Role</th><th>State</th><th>Last contact</th><th>Behind</th>"
          "<th>Ahead</th><th>Conflicts</th><th>Data as of</th><th>Clock</th>"
          "<th>Why</th>"
          "</tr></thead><tbody>\n",
          f);
    for (size_t i = 0; i < v->n; i++)
        s_row(f, order[i], v->now_ms);
    fputs("</tbody></table>\n</body></html>\n", f);
    free(order);
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}
