/*
 * pci.h: PCI configuration space (port I/O 0xcf8/0xcfc, as on the `pc`
 * machine), device enumeration, BAR mapping and MSI-X. Drivers register an
 * ops table; pci_probe() matches every device against them once at boot.
 */
#ifndef PCI_H
#define PCI_H

#include <stdint.h>

struct pci_dev {
	uint8_t bus, dev, fn;
	uint16_t vendor, device;
	uint8_t class, subclass;
	uint16_t subsys_id;
	uint8_t msix_cap; /* config offset of the MSI-X capability, or 0 */
};

struct pci_driver {
	const char *name;
	uint16_t vendor, device;
	int (*probe)(struct pci_dev *d); /* 0 if the driver took the device */
};

uint32_t pci_read32(const struct pci_dev *d, uint8_t off);
uint16_t pci_read16(const struct pci_dev *d, uint8_t off);
uint8_t pci_read8(const struct pci_dev *d, uint8_t off);
void pci_write32(const struct pci_dev *d, uint8_t off, uint32_t v);
void pci_write16(const struct pci_dev *d, uint8_t off, uint16_t v);

/* Walks the capability list; returns the offset of the next capability of `id` after `from`, or 0.
 */
uint8_t pci_find_cap(const struct pci_dev *d, uint8_t id, uint8_t from);
/* The physical address of a memory BAR (32- or 64-bit), or 0 (I/O BAR or unassigned). */
uint64_t pci_bar_address(const struct pci_dev *d, int bar);
/* Maps [pa, pa+len) of device memory into the runtime's MMIO area; returns the address. */
void *pci_map(uint64_t pa, uint64_t len);
/* Enables bus mastering and memory decoding. */
void pci_enable(const struct pci_dev *d);

/*
 * Points MSI-X table entry `entry` at interrupt vector `vector` on this CPU
 * and enables MSI-X. Returns 0 or -ENODEV (no MSI-X).
 */
int pci_msix_route(struct pci_dev *d, unsigned entry, uint8_t vector);

void pci_register(const struct pci_driver *drv);
/* Enumerates bus 0 and hands each device to the first driver that wants it. */
void pci_probe(void);

#endif
