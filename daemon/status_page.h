/*
 * fieldsync — the status page served at /: one self-contained HTML
 * document rendered from the status view.
 *
 * Ownership: returns a malloc'd string the caller frees, or NULL when out
 * of memory.
 */
#ifndef FSY_STATUS_PAGE_H
#define FSY_STATUS_PAGE_H

#include "fieldsync/status_view.h"

/* The page reloads itself every refresh_s seconds. */
char *fsy_status_page_render(const fsy_status_view_t *v, unsigned refresh_s);

#endif
