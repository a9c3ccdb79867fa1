/* fieldsync — libgit2, set up once per process. See git_once.h. */
#include "git_once.h"

#include <pthread.h>

#include <git2.h>

static pthread_once_t s_once = PTHREAD_ONCE_INIT;

static void
s_setup(void)
{
    git_libgit2_init();
}

void
fsy_git_ready(void)
{
    pthread_once(&s_once, s_setup);
}
