/* drivers.h: registers every driver in drivers/ and probes the PCI bus once at boot. */
#ifndef DRIVERS_H
#define DRIVERS_H

void drivers_init(void);

#endif
