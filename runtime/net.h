/*
 * net.h: the network stack (lwIP) on the first network device: interface
 * configuration, frame input from the driver's interrupt, and lwIP's timers
 * on one runtime deadline.
 */
#ifndef NET_H
#define NET_H

#include "cmdline.h"

/*
 * Brings the interface up with ip=/gw= from the command line, or DHCP when
 * there is no ip=. Does nothing without a network device. 0, or -EINVAL for
 * a malformed address (reported on the console).
 */
int net_init(const struct cmdline *c);
/*
 * Before calling into lwIP for something that may send (connect, a datagram):
 * after a quiet spell, lwIP's timers catch up first (net.c).
 */
void net_wake(void);
/* After calling into lwIP: re-arms the deadline for lwIP's next timeout. */
void net_timers_changed(void);
/* Initializes lwIP once; sockets work (on no interface) even without a device. */
void net_stack_init(void);

#endif
