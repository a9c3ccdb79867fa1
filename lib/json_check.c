/*
 * fieldsync — checks on JSON from elsewhere (vv files, NDJSON imports). See
 * fieldsync/json_check.h.
 */
#include <string.h>

#include "fieldsync/json_check.h"

static bool
s_in_list(const char *key, const char *const list[])
{
    for (; *list != NULL; list++)
        if (strcmp(key, *list) == 0)
            return true;
    return false;
}

bool
fsy_json_keys_ok(const cJSON *obj, const char *const allowed[],
                 const char **bad, bool *repeated)
{
    const cJSON *c, *p;

    for (c = obj->child; c != NULL; c = c->next) {
        *bad = c->string;
        *repeated = false;
        if (!s_in_list(c->string, allowed))
            return false;
        *repeated = true;
        for (p = obj->child; p != c; p = p->next)
            if (strcmp(p->string, c->string) == 0)
                return false;
    }
    return true;
}

bool
fsy_json_has_nul_escape(const char *text)
{
    const char *p;

    /* Backslashes occur only inside strings in valid JSON; skipping each
     * escaped character keeps "\\u0000" (an escaped backslash) apart. */
    for (p = text; *p != '\0'; p++) {
        if (*p != '\\')
            continue;
        if (p[1] == 'u' && strncmp(p + 2, "0000", 4) == 0)
            return true;
        if (p[1] != '\0')
            p++;
    }
    return false;
}
