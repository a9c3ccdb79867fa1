/*
 * fieldsync — text from the replica written into HTML: every page the
 * daemon serves escapes what sites wrote with these.
 */
#ifndef FSY_HTML_H
#define FSY_HTML_H

#include <stddef.h>
#include <stdio.h>

/* s escaped for element content and quoted attributes. */
void fsy_html_esc(FILE *f, const char *s);

/* n bytes of v, escaped likewise; control characters other than line
 * breaks and tabs, and the direction overrides and isolates, become
 * U+FFFD, so nothing sent from afar can hide or reorder what a reader
 * sees. */
void fsy_html_esc_n(FILE *f, const char *v, size_t n);

/* s escaped for a URL's path or query (percent-encoding). */
void fsy_html_url(FILE *f, const char *s);

#endif
