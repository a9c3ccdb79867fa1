/*
 * fieldsync — the document browser. See browse.h.
 */
#include "browse.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fieldsync/doc_json.h"
#include "fieldsync/error.h"
#include "fieldsync/ident.h"
#include "fieldsync/query.h"
#include "fieldsync/store.h"
#include "fieldsync/text_diff.h"
#include "fieldsync/wallclock.h"
#include "html.h"

#define S_HISTORY_MAX 12 /* versions of one field shown */

static const char s_head[] =
    "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
    "<meta name=\"viewport\" content=\"width=device-width, "
    "initial-scale=1\">\n<title>fieldsync: ";
static const char s_style[] =
    "</title>\n<style>\n"
    "body{font:14px/1.45 system-ui,sans-serif;margin:1.5em;color:#222;"
    "max-width:70em}\n"
    "form{background:#f4f4f4;padding:.6em;margin-bottom:1em}\n"
    "input{margin:.15em .4em .15em 0}\n"
    ".hit{margin:.9em 0}.hit a{font-weight:600}\n"
    ".meta,.fresh{color:#555;font-size:90%}.fresh{margin-left:.8em}\n"
    "mark{background:#ffe082}\n"
    "table{border-collapse:collapse;width:100%;margin:.5em 0}\n"
    "th,td{padding:.35em .6em;border:1px solid #ddd;text-align:left;"
    "vertical-align:top}\nth{background:#f4f4f4}\n"
    "pre{white-space:pre-wrap;margin:0;font:13px/1.4 monospace}\n"
    "td.win{background:#e8f5e9}\n"
    ".add,.del,.ctx,.hunk{display:block}.add{background:#e6ffed}"
    ".del{background:#ffeef0}.hunk{color:#777}\n"
    ".ver{margin-top:.7em;font-size:90%;color:#444}\n"
    ".deleted{background:#c62828;color:#fff;padding:.3em .6em}\n"
    "</style></head><body>\n"
    "<p><a href=\"/docs\">Search</a> · <a href=\"/\">Sync status</a></p>\n";

/* A page in progress: a memory stream. */
typedef struct s_page {
    FILE *f;
    char *buf;
    size_t len;
} s_page_t;

static bool
s_page_open(s_page_t *p, const char *title)
{
    p->buf = NULL;
    p->f = open_memstream(&p->buf, &p->len);
    if (p->f == NULL)
        return false;
    fputs(s_head, p->f);
    fsy_html_esc(p->f, title);
    fputs(s_style, p->f);
    return true;
}

static void
s_page_close(s_page_t *p, fsy_reply_t *r)
{
    fputs("</body></html>\n", p->f);
    if (fclose(p->f) != 0) {
        free(p->buf);
        p->buf = NULL;
    }
    r->status = 200;
    r->type = "text/html; charset=utf-8";
    r->body = p->buf;
}

/* "gao: data as of 3d02h ago", from the newest change of each site. */
static void
s_fresh(FILE *f, const fsy_as_of_t *v, size_t n, const char *site)
{
    char age[48];
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].site, site) == 0) {
            fputs("<span class=\"fresh\">", f);
            fsy_html_esc(f, site);
            fprintf(f, ": data as of %s</span>",
                    fsy_age(v[i].newest_ms, fsy_wall_ms(), age, sizeof age));
            return;
        }
}

static void
s_stamp(FILE *f, const char *what, const fsy_stamp_t *st)
{
    char t[32];
    fsy_time_text(st->hlc, t);
    fprintf(f, "%s %s at ", what, t);
    fsy_html_esc(f, st->site);
    if (st->author[0] != '\0') {
        fputs(" by ", f);
        fsy_html_esc(f, st->author);
    }
}

/* ---- the search page ---------------------------------------------------- */

static void
s_input(FILE *f, struct MHD_Connection *c, const char *name, const char *label,
        const char *hint)
{
    const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);
    fprintf(f, "<label>%s <input name=\"%s\" placeholder=\"%s\" value=\"",
            label, name, hint);
    fsy_html_esc(f, v != NULL ? v : "");
    fputs("\"></label>\n", f);
}

static void
s_form(FILE *f, struct MHD_Connection *c, const fsy_api_args_t *args)
{
    fputs("<form method=\"get\" action=\"/docs\">\n", f);
    s_input(f, c, "q", "Search", "displacement AND Gao");
    s_input(f, c, "scope", "Scope", "MLI");
    s_input(f, c, "kind", "Kind", "analysis");
    s_input(f, c, "site", "Site", "gao");
    s_input(f, c, "since", "Since", "30d or 2026-11-01");
    s_input(f, c, "until", "Until", "2026-11-30");
    fprintf(f,
            "<label><input type=\"checkbox\" name=\"conflicts\" value=\"1\"%s>"
            " open conflicts only</label>\n"
            "<input type=\"submit\" value=\"Find\">\n</form>\n",
            args->q.conflicts ? " checked" : "");
}

/* A snippet, escaped, its matches in <mark>. */
static void
s_snippet(FILE *f, const char *s)
{
    for (const char *p = s; *p;) {
        size_t n = strcspn(p, "\x02\x03");
        fsy_html_esc_n(f, p, n);
        p += n;
        if (*p != '\0')
            fputs(*p++ == FSY_QUERY_MARK_ON ? "<mark>" : "</mark>", f);
    }
}

typedef struct s_results {
    FILE *f;
    const fsy_as_of_t *fresh;
    size_t n_fresh, n;
} s_results_t;

static void
s_link(FILE *f, const fsy_doc_t *d)
{
    fputs("<a href=\"/docs/", f);
    fsy_html_url(f, d->scope);
    fputc('/', f);
    fsy_html_url(f, d->id);
    fputs("\">", f);
}

static int
s_result(const fsy_hit_t *h, void *ctx)
{
    s_results_t *x = ctx;
    const fsy_doc_t *d = h->doc;
    const fsy_head_t *th = fsy_doc_title(d);
    FILE *f = x->f;
    fputs("<div class=\"hit\">", f);
    s_link(f, d);
    if (th != NULL)
        fsy_html_esc_n(f, (const char *)th->value, th->value_len);
    else
        fsy_html_esc(f, d->id);
    fputs("</a><br><span class=\"meta\">", f);
    fsy_html_esc(f, d->scope);
    fputs(" · ", f);
    fsy_html_esc(f, d->kind);
    fputs(" · ", f);
    s_stamp(f, "updated", &h->updated);
    if (d->n_conflicts > 0)
        fprintf(f, " · <b>%zu open conflict%s</b>", d->n_conflicts,
                d->n_conflicts == 1 ? "" : "s");
    fputs("</span>", f);
    /* how current this office's data is here: where the document comes
     * from, and who wrote its latest version if another site */
    s_fresh(f, x->fresh, x->n_fresh, h->created.site);
    if (strcmp(h->created.site, h->updated.site) != 0)
        s_fresh(f, x->fresh, x->n_fresh, h->updated.site);
    if (h->snippet != NULL) {
        fputs("<br><span class=\"snip\">", f);
        s_snippet(f, h->snippet);
        fputs("</span>", f);
    }
    fputs("</div>\n", f);
    x->n++;
    return 0;
}

void
fsy_browse_search(const fsy_config_t *cfg, struct MHD_Connection *c,
                  const fsy_api_args_t *args, fsy_reply_t *r)
{
    s_page_t p;
    if (!s_page_open(&p, "documents"))
        return;
    fputs("<h1>Documents</h1>\n", p.f);
    s_form(p.f, c, args);
    fsy_store_t *s = NULL;
    s_results_t x = {.f = p.f};
    fsy_as_of_t *fresh = NULL;
    fsy_err_clear();
    int rc = fsy_store_open(&s, cfg->db);
    if (rc == FSY_OK)
        rc = fsy_store_as_of(s, &fresh, &x.n_fresh);
    x.fresh = fresh;
    if (rc == FSY_OK) {
        fputs("<div id=\"results\">\n", p.f);
        rc = fsy_store_query(s, &args->q, s_result, &x);
        fputs("</div>\n", p.f);
    }
    fsy_store_close(&s);
    free(fresh);
    if (rc != FSY_OK) {
        fputs("<p class=\"deleted\">", p.f);
        fsy_html_esc(p.f, fsy_errdetail());
        fputs("</p>\n", p.f);
    } else {
        fprintf(p.f, "<p class=\"meta\">%zu document%s shown%s.</p>\n", x.n,
                x.n == 1 ? "" : "s",
                x.n == args->q.limit ? " (the first ones: narrow the search)"
                                     : "");
    }
    s_page_close(&p, r);
}

/* ---- a document --------------------------------------------------------- */

static void
s_value(FILE *f, const uint8_t *v, size_t n, bool absent, bool ref)
{
    char *json = NULL;
    if (absent) {
        fputs("<i>(removed)</i>", f);
    } else if (ref ||
               (n > 0 && (memchr(v, 0, n) != NULL || !fsy_utf8_valid(v, n)))) {
        cJSON *j = fsy_value_json(v, n, false, ref);
        json = j != NULL ? cJSON_PrintUnformatted(j) : NULL;
        cJSON_Delete(j);
        fprintf(f, "<i>%s</i> ", ref ? "attachment" : "bytes");
        if (ref && json != NULL)
            fsy_html_esc(f, json);
        else
            fprintf(f, "(%zu bytes)", n);
    } else {
        fputs("<pre>", f);
        fsy_html_esc_n(f, (const char *)v, n);
        fputs("</pre>", f);
    }
    free(json);
}

static void
s_fields(FILE *f, const fsy_doc_t *d)
{
    fputs("<table id=\"fields\"><tr><th>Field</th><th>Value</th></tr>\n", f);
    for (size_t i = 0; i < d->n_fields; i++) {
        const fsy_field_t *fl = &d->fields[i];
        const fsy_head_t *h = fsy_field_shown(fl);
        if (fl->name[0] == '_' || h->absent)
            continue;
        fputs("<tr><th>", f);
        fsy_html_esc(f, fl->name);
        fputs(fl->conflict ? " <b>(in conflict)</b>" : "", f);
        if (fl->text_merge == FSY_TEXT_MERGE_CLEAN) {
            char note[FSY_MERGE_NOTE_LEN];
            fputs("<br><span class=\"meta\">", f);
            fsy_html_esc(f, fsy_field_merge_note(fl, note, sizeof note));
            fputs("</span>", f);
        }
        fputs("</th><td>", f);
        s_value(f, h->value, h->value_len, false, h->ref);
        fputs("</td></tr>\n", f);
    }
    fputs("</table>\n", f);
}

static void
s_head_label(FILE *f, const fsy_version_t *v, const char *author, bool winner)
{
    char label[FSY_SITE_MAX + 24], t[32];
    fsy_time_text(v->hlc, t);
    fsy_html_esc(f, fsy_version_label(v, label, sizeof label));
    fprintf(f, "%s<br><span class=\"meta\">%s", winner ? " (shown)" : "", t);
    if (author[0] != '\0') {
        fputs("<br>", f);
        fsy_html_esc(f, author);
    }
    fputs("</span>", f);
}

/* Each field in conflict: its competing versions side by side. */
static void
s_conflicts(FILE *f, const fsy_doc_t *d)
{
    if (d->n_conflicts == 0)
        return;
    fputs("<h2>Open conflicts</h2>\n", f);
    for (size_t i = 0; i < d->n_fields; i++) {
        const fsy_field_t *fl = &d->fields[i];
        if (!fl->conflict)
            continue;
        fputs("<table class=\"conflict\"><tr><th colspan=\"99\">", f);
        fsy_html_esc(f, fl->name);
        fputs(fl->text_merge == FSY_TEXT_MERGE_OVERLAP
                  ? " <span class=\"meta\">(the edits overlap: "
                    "<code>fieldsync conflicts</code> shows where)</span>"
                  : "",
              f);
        fputs("</th></tr><tr>", f);
        for (size_t k = fl->n_heads; k-- > 0;) {
            fputs("<th>", f);
            s_head_label(f, &fl->heads[k].version, fl->heads[k].author,
                         k == fl->winner);
            fputs("</th>", f);
        }
        fputs("</tr><tr>", f);
        for (size_t k = fl->n_heads; k-- > 0;) {
            const fsy_head_t *h = &fl->heads[k];
            fputs(k == fl->winner ? "<td class=\"win\">" : "<td>", f);
            s_value(f, h->value, h->value_len, h->absent, h->ref);
            fputs("</td>", f);
        }
        fputs("</tr></table>\n", f);
    }
}

static int
s_diff_line(const fsy_diff_line_t *l, void *ctx)
{
    FILE *f = ctx;
    if (l->op == '@') {
        fprintf(f, "<span class=\"hunk\">@@ -%d,%d +%d,%d @@</span>",
                l->old_start, l->old_lines, l->new_start, l->new_lines);
        return 0;
    }
    if (l->op == '\\')
        return 0;
    fprintf(f, "<span class=\"%s\">%c",
            l->op == '+'   ? "add"
            : l->op == '-' ? "del"
                           : "ctx",
            l->op);
    fsy_html_esc_n(f, l->text, l->len);
    fputs("</span>", f);
    return 0;
}

static bool
s_text(const fsy_change_t *c)
{
    return c->absent ||
           (!c->ref &&
            (c->value_len == 0 || (memchr(c->value, 0, c->value_len) == NULL &&
                                   fsy_utf8_valid(c->value, c->value_len))));
}

/* One version of a field, with what it changed since prev (or NULL). */
static void
s_version(FILE *f, const fsy_change_t *c, const fsy_change_t *prev)
{
    fputs("<div class=\"ver\">", f);
    s_head_label(f, &c->version, c->author, false);
    fputs("</div>\n", f);
    if (!s_text(c) || (prev != NULL && !s_text(prev))) {
        s_value(f, c->value, c->value_len, c->absent, c->ref);
        return;
    }
    fputs("<pre class=\"diff\">", f);
    size_t hunks = 0;
    const char *pv =
        prev && !prev->absent && prev->value ? (const char *)prev->value : "";
    const char *cv = !c->absent && c->value ? (const char *)c->value : "";
    int rc =
        fsy_text_diff(pv, prev && !prev->absent ? prev->value_len : 0, cv,
                      c->absent ? 0 : c->value_len, 2, s_diff_line, f, &hunks);
    if (rc != FSY_OK)
        fputs("(cannot show what changed: out of memory)</pre>\n", f);
    else
        fputs(hunks == 0 ? "(the same value)</pre>\n" : "</pre>\n", f);
}

/* Each user field's versions, newest first, each with its changes. */
static void
s_history(FILE *f, const fsy_doc_t *d, const fsy_change_list_t *h)
{
    fputs("<h2>History</h2>\n", f);
    for (size_t i = 0; i < d->n_fields; i++) {
        const char *name = d->fields[i].name;
        if (name[0] == '_')
            continue;
        fputs("<h3>", f);
        fsy_html_esc(f, name);
        fputs("</h3>\n", f);
        size_t shown = 0;
        for (size_t k = h->n; k-- > 0 && shown < S_HISTORY_MAX;) {
            if (strcmp(h->v[k].field, name) != 0)
                continue;
            const fsy_change_t *prev = NULL;
            for (size_t j = k; j-- > 0 && prev == NULL;)
                if (strcmp(h->v[j].field, name) == 0)
                    prev = &h->v[j];
            s_version(f, &h->v[k], prev);
            shown++;
        }
    }
}

static void
s_doc_page(s_page_t *p, const fsy_doc_t *d, const fsy_stamp_t *cr,
           const fsy_stamp_t *up, const fsy_change_list_t *h,
           const fsy_as_of_t *fresh, size_t n_fresh)
{
    const fsy_head_t *th = fsy_doc_title(d);
    fputs("<h1>", p->f);
    if (th != NULL)
        fsy_html_esc_n(p->f, (const char *)th->value, th->value_len);
    else
        fsy_html_esc(p->f, d->id);
    fputs("</h1>\n<p class=\"meta\">", p->f);
    fsy_html_esc(p->f, d->id);
    fputs(" · ", p->f);
    fsy_html_esc(p->f, d->scope);
    fputs(" · ", p->f);
    fsy_html_esc(p->f, d->kind);
    fputs("<br>", p->f);
    s_stamp(p->f, "created", cr);
    fputs("<br>", p->f);
    s_stamp(p->f, "last version", up);
    s_fresh(p->f, fresh, n_fresh, cr->site);
    if (strcmp(cr->site, up->site) != 0)
        s_fresh(p->f, fresh, n_fresh, up->site);
    fputs("</p>\n", p->f);
    if (!d->visible)
        fputs("<p class=\"deleted\">This document was deleted.</p>\n", p->f);
    s_fields(p->f, d);
    s_conflicts(p->f, d);
    s_history(p->f, d, h);
}

void
fsy_browse_doc(const fsy_config_t *cfg, const char *path, fsy_reply_t *r)
{
    char scope[FSY_SCOPE_MAX + 1];
    const char *id;
    if (!fsy_api_doc_path(path, cfg->http_read_scopes, "/docs", scope, &id, r))
        return;
    fsy_store_t *s = NULL;
    fsy_doc_t *d = NULL;
    fsy_stamp_t cr = {0}, up = {0};
    fsy_change_list_t h = {0};
    fsy_as_of_t *fresh = NULL;
    size_t n_fresh = 0;
    fsy_err_clear();
    int rc = fsy_store_open(&s, cfg->db);
    if (rc == FSY_OK)
        rc = fsy_store_get(s, scope, id, &d);
    if (rc == FSY_OK)
        rc = fsy_store_stamps(s, scope, id, &cr, &up);
    if (rc == FSY_OK)
        rc = fsy_store_history(s, scope, id, fsy_change_list_collect, &h);
    if (rc == FSY_OK)
        rc = fsy_store_as_of(s, &fresh, &n_fresh);
    fsy_store_close(&s);
    s_page_t p;
    if (rc != FSY_OK)
        fsy_reply_text(r, rc == FSY_ENOTFOUND ? 404 : 503, "%s\n",
                       fsy_errdetail());
    else if (s_page_open(&p, id)) {
        s_doc_page(&p, d, &cr, &up, &h, fresh, n_fresh);
        s_page_close(&p, r);
    }
    free(fresh);
    fsy_change_list_clear(&h);
    fsy_doc_free(&d);
}
