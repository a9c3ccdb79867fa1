/*
 * fieldsync — escaping for the daemon's pages. See html.h.
 */
#include "html.h"

#include <stdbool.h>
#include <string.h>

/* U+202A..U+202E and U+2066..U+2069: they reorder what follows them. */
static bool
s_direction(const char *v, size_t n)
{
    const unsigned char *u = (const unsigned char *)v;
    return n >= 3 && u[0] == 0xE2 &&
           ((u[1] == 0x80 && u[2] >= 0xAA && u[2] <= 0xAE) ||
            (u[1] == 0x81 && u[2] >= 0xA6 && u[2] <= 0xA9));
}

void
fsy_html_esc_n(FILE *f, const char *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)v[i];
        switch (ch) {
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '&':
            fputs("&amp;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        case '\'':
            fputs("&#39;", f);
            break;
        default:
            if ((ch < 0x20 && ch != '\n' && ch != '\t') || ch == 0x7f)
                fputs("\xef\xbf\xbd", f);
            else if (ch == 0xC2 && i + 1 < n &&
                     (unsigned char)v[i + 1] < 0xA0 &&
                     (unsigned char)v[i + 1] >= 0x80) {
                fputs("\xef\xbf\xbd", f); /* a C1 control */
                i++;
            } else if (s_direction(v + i, n - i)) {
                fputs("\xef\xbf\xbd", f);
                i += 2;
            } else
                fputc(ch, f);
        }
    }
}

void
fsy_html_esc(FILE *f, const char *s)
{
    fsy_html_esc_n(f, s, strlen(s));
}

void
fsy_html_url(FILE *f, const char *s)
{
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
            (ch >= '0' && ch <= '9') || strchr("-_.~", ch) != NULL)
            fputc(ch, f);
        else
            fprintf(f, "%%%02X", ch);
    }
}
