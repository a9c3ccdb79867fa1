/*
 * fieldsync — libgit2, set up once per process, on first use.
 *
 * libgit2's set-up loads the system's TLS certificates (8 ms here), which
 * a text merge or diff never needs: doing it at every store open cost
 * every command and every daemon start that much. fsy_git_ready() sets
 * libgit2 up the first time any thread asks (thread-safe) and leaves it
 * for the process's exit: it holds memory only, which the OS reclaims.
 * Call it before any libgit2 function.
 */
#ifndef FSY_GIT_ONCE_H
#define FSY_GIT_ONCE_H

void fsy_git_ready(void);

#endif
