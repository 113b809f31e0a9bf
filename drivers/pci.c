/*
 * pci.c: config space through the legacy ports. QEMU's `pc` machine puts
 * every device on bus 0, and qboot assigns the BARs, so enumeration is a
 * walk over 32 slots and their functions.
 */
#include "pci.h"

#include "../runtime/console.h"
#include "../runtime/cpu.h"
#include "../runtime/errno.h"
#include "../runtime/layout.h"
#include "../runtime/lib.h"
#include "../runtime/vm.h"

#define CFG_ADDR 0xcf8
#define CFG_DATA 0xcfc
#define MAX_DRIVERS 8
#define CAP_MSIX 0x11

static const struct pci_driver *drivers[MAX_DRIVERS];
static int ndrivers;
static uint64_t mmio_next = MMIO_REGION + 0x100000; /* the APIC has the first page */

static void select_reg(const struct pci_dev *d, uint8_t off)
{
	outl(CFG_ADDR, 0x80000000u | (uint32_t)d->bus << 16 | (uint32_t)d->dev << 11 |
			       (uint32_t)d->fn << 8 | (off & 0xfc));
}

uint32_t pci_read32(const struct pci_dev *d, uint8_t off)
{
	uint32_t v;

	select_reg(d, off);
	__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"((uint16_t)CFG_DATA));
	return v;
}

uint16_t pci_read16(const struct pci_dev *d, uint8_t off)
{
	return (uint16_t)(pci_read32(d, off) >> ((off & 2) * 8));
}

uint8_t pci_read8(const struct pci_dev *d, uint8_t off)
{
	return (uint8_t)(pci_read32(d, off) >> ((off & 3) * 8));
}

void pci_write32(const struct pci_dev *d, uint8_t off, uint32_t v)
{
	select_reg(d, off);
	outl(CFG_DATA, v);
}

void pci_write16(const struct pci_dev *d, uint8_t off, uint16_t v)
{
	uint32_t old = pci_read32(d, off), shift = (off & 2) * 8;

	pci_write32(d, off, (old & ~(0xffffu << shift)) | (uint32_t)v << shift);
}

uint8_t pci_find_cap(const struct pci_dev *d, uint8_t id, uint8_t from)
{
	uint8_t off;
	int guard = 48; /* a malformed (looping) list ends here */

	if (!(pci_read16(d, 0x06) & (1u << 4)))
		return 0; /* no capability list */
	off = from ? pci_read8(d, from + 1) : pci_read8(d, 0x34);
	for (; off >= 0x40 && guard--; off = pci_read8(d, off + 1))
		if (pci_read8(d, off) == id)
			return off;
	return 0;
}

uint64_t pci_bar_address(const struct pci_dev *d, int bar)
{
	uint32_t lo = pci_read32(d, (uint8_t)(0x10 + 4 * bar));

	if (lo & 1)
		return 0; /* I/O space */
	if (((lo >> 1) & 3) == 2)
		return (lo & ~0xfull) | (uint64_t)pci_read32(d, (uint8_t)(0x14 + 4 * bar)) << 32;
	return lo & ~0xfull;
}

void *pci_map(uint64_t pa, uint64_t len)
{
	uint64_t base = ALIGN_DOWN(pa, PAGE_SIZE), va = mmio_next;

	len = ALIGN_UP(pa + len, PAGE_SIZE) - base;
	for (uint64_t off = 0; off < len; off += PAGE_SIZE)
		vm_map_mmio(va + off, base + off);
	mmio_next += len + PAGE_SIZE;
	return (void *)(va + (pa - base));
}

/*
 * qboot leaves the BARs of devices it does not boot from unassigned, so the
 * runtime places memory BARs itself, in a window above any RAM we support
 * (3 GiB) and below the IOAPIC. I/O BARs are left alone: no driver uses them.
 */
#define MMIO_WINDOW_BASE 0xc0000000ull
#define MMIO_WINDOW_END 0xfe000000ull

static uint64_t window_next = MMIO_WINDOW_BASE;

static void assign_bars(const struct pci_dev *d)
{
	for (int bar = 0; bar < 6; bar++) {
		uint8_t off = (uint8_t)(0x10 + 4 * bar);
		uint32_t orig = pci_read32(d, off), mask;
		int is64 = ((orig >> 1) & 3) == 2;
		uint64_t size, addr;

		if (orig & 1)
			continue; /* I/O */
		if (pci_bar_address(d, bar)) {
			bar += is64;
			continue; /* already placed */
		}
		pci_write32(d, off, 0xffffffffu);
		mask = pci_read32(d, off) & ~0xfu;
		if (!mask) {
			pci_write32(d, off, orig);
			continue; /* not implemented */
		}
		size = (uint64_t)(~mask) + 1;
		addr = ALIGN_UP(window_next, size);
		if (addr + size > MMIO_WINDOW_END) {
			pci_write32(d, off, orig);
			kprintf("runtime: pci: no room for BAR %d of %02x.%x\n", bar, d->dev,
				d->fn);
			continue;
		}
		pci_write32(d, off, (uint32_t)addr | (orig & 0xf));
		if (is64)
			pci_write32(d, (uint8_t)(off + 4), 0);
		window_next = addr + size;
		bar += is64;
	}
}

void pci_enable(const struct pci_dev *d)
{
	assign_bars(d);
	pci_write16(d, 0x04, pci_read16(d, 0x04) | 0x6); /* memory space, bus master */
}

int pci_msix_route(struct pci_dev *d, unsigned entry, uint8_t vector)
{
	uint32_t table, bir;
	uint16_t ctrl;
	volatile uint32_t *t;
	uint64_t bar;

	if (!d->msix_cap)
		return -ENODEV;
	ctrl = pci_read16(d, d->msix_cap + 2);
	if (entry > (ctrl & 0x7ffu))
		return -EINVAL;
	table = pci_read32(d, d->msix_cap + 4);
	bir = table & 7;
	if (!(bar = pci_bar_address(d, (int)bir)))
		return -ENODEV;
	t = pci_map(bar + (table & ~7u) + 16 * entry, 16);
	t[0] = 0xfee00000u; /* to the local APIC of CPU 0, fixed delivery */
	t[1] = 0;
	t[2] = vector;
	t[3] = 0; /* unmasked */
	pci_write16(d, d->msix_cap + 2,
		    (uint16_t)((ctrl | 0x8000u) & ~0x4000u)); /* enable, unmask */
	return 0;
}

void pci_register(const struct pci_driver *drv)
{
	if (ndrivers < MAX_DRIVERS)
		drivers[ndrivers++] = drv;
}

static void offer(struct pci_dev *d)
{
	for (int i = 0; i < ndrivers; i++) {
		if (drivers[i]->vendor != d->vendor || drivers[i]->device != d->device)
			continue;
		if (drivers[i]->probe(d) == 0)
			return;
	}
}

void pci_probe(void)
{
	for (uint8_t dev = 0; dev < 32; dev++) {
		for (uint8_t fn = 0; fn < 8; fn++) {
			struct pci_dev d = {0, dev, fn, 0, 0, 0, 0, 0, 0};
			uint32_t id = pci_read32(&d, 0), cls;

			if ((id & 0xffff) == 0xffff) {
				if (fn == 0)
					break;
				continue;
			}
			d.vendor = (uint16_t)id;
			d.device = (uint16_t)(id >> 16);
			cls = pci_read32(&d, 0x08);
			d.class = (uint8_t)(cls >> 24);
			d.subclass = (uint8_t)(cls >> 16);
			d.subsys_id = pci_read16(&d, 0x2e);
			d.msix_cap = pci_find_cap(&d, CAP_MSIX, 0);
			offer(&d);
			if (fn == 0 && !(pci_read8(&d, 0x0e) & 0x80))
				break; /* not multi-function */
		}
	}
}
