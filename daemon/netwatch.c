/*
 * fieldsyncd — the network coming back (rtnetlink). See netwatch.h.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>

#include "netwatch.h"

int
fsy_netwatch_open(void)
{
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    NETLINK_ROUTE);
    if (fd < 0)
        return -1;
    struct sockaddr_nl sa;
    memset(&sa, 0, sizeof sa);
    sa.nl_family = AF_NETLINK;
    sa.nl_groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR |
                   RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE;
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

/* A link up and running, a new address or route: the network may be back. */
static bool
s_is_up(const struct nlmsghdr *h)
{
    if (h->nlmsg_type == RTM_NEWADDR || h->nlmsg_type == RTM_NEWROUTE)
        return true;
    if (h->nlmsg_type != RTM_NEWLINK ||
        h->nlmsg_len < NLMSG_LENGTH(sizeof(struct ifinfomsg)))
        return false;
    const struct ifinfomsg *ifi = NLMSG_DATA(h);
    unsigned want = IFF_UP | IFF_RUNNING;
    return (ifi->ifi_flags & want) == want;
}

bool
fsy_netwatch_drain(int fd)
{
    /* a burst (a VPN coming up) is read whole; a message larger than the
     * buffer comes truncated and is skipped by NLMSG_OK */
    static char buf[32768]
        __attribute__((aligned(__alignof__(struct nlmsghdr))));
    bool up = false;
    for (int k = 0; fd >= 0 && k < 64; k++) {
        struct sockaddr_nl from;
        socklen_t from_len = sizeof from;
        ssize_t n = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&from,
                             &from_len);
        if (n <= 0) /* EAGAIN: all read; ENOBUFS: some lost, go on */
            return up || (n < 0 && errno == ENOBUFS);
        if (from_len != sizeof from || from.nl_pid != 0)
            continue;     /* the kernel's only */
        int len = (int)n; /* signed, as NLMSG_NEXT expects (netlink(7)) */
        for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, len);
             h = NLMSG_NEXT(h, len))
            up = up || s_is_up(h);
    }
    return up;
}
