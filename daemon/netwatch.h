/*
 * fieldsyncd — the network coming back. A field office's link returns
 * when its modem, interface, address or route comes up; ZeroMQ would only
 * try the parent again at the end of its back-off (minutes after a long
 * cut). The kernel says when such a thing appears (rtnetlink, Linux): the
 * loop then connects to the parent at once.
 */
#ifndef FSY_NETWATCH_H
#define FSY_NETWATCH_H

#include <stdbool.h>

/* A non-blocking rtnetlink socket subscribed to links, addresses and
 * routes (IPv4 and IPv6), or -1 (errno set) where there is none; the
 * caller closes it. */
int fsy_netwatch_open(void);

/* Reads every waiting notification: true if one says a link came up or
 * an address or route appeared. Never blocks. */
bool fsy_netwatch_drain(int fd);

#endif
