/* devices.h: character devices: the console, /dev/null, /dev/zero, /dev/(u)random. */
#ifndef DEVICES_H
#define DEVICES_H

#include "vfs.h"

/* Creates the /dev nodes and opens the console as fds 0, 1 and 2. */
void devices_init(void);

#endif
