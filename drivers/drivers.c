/* drivers.c: the list of drivers the runtime knows. */
#include "drivers.h"

#include "pci.h"

void virtio_net_register(void);
void virtio_blk_register(void);
void virtio_console_register(void);
void virtio_blk_publish(void);
void virtio_rng_register(void);

void drivers_init(void)
{
	virtio_net_register();
	virtio_blk_register();
	virtio_rng_register();
	virtio_console_register();
	pci_probe();
	virtio_blk_publish();
}
