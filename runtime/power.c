/*
 * power.c: power-off. First the isa-debug-exit port (ignored when absent),
 * then ACPI S5 through the PIIX4 power-management function of the `pc`
 * machine. qboot does not program the PIIX4 PM I/O base, so we do it here
 * through PCI configuration space. If all that fails, a triple fault resets
 * the VM, which libvirt and `-no-reboot` turn into an exit as well.
 */
#include "power.h"

#include "cpu.h"

#define DEBUG_EXIT_PORT 0xf4
#define PIIX4_PM_BDF ((0u << 16) | (1u << 11) | (3u << 8)) /* 00:01.3 */
#define PM_BASE 0xb000
#define SLP_EN (1u << 13)

static uint32_t pci_read(uint32_t bdf, uint32_t reg)
{
	outl(0xcf8, 0x80000000u | bdf | (reg & 0xfc));
	uint32_t v;
	__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"((uint16_t)0xcfc));
	return v;
}

static void pci_write(uint32_t bdf, uint32_t reg, uint32_t v)
{
	outl(0xcf8, 0x80000000u | bdf | (reg & 0xfc));
	outl(0xcfc, v);
}

static void acpi_s5(void)
{
	uint32_t id = pci_read(PIIX4_PM_BDF, 0);

	if (id != 0x71138086) /* Intel 82371AB PIIX4 ACPI */
		return;
	if (!(pci_read(PIIX4_PM_BDF, 0x40) & ~1u)) {
		pci_write(PIIX4_PM_BDF, 0x40, PM_BASE | 1);
		pci_write(PIIX4_PM_BDF, 0x80, pci_read(PIIX4_PM_BDF, 0x80) | 1); /* PMIOSE */
	}
	outw((uint16_t)((pci_read(PIIX4_PM_BDF, 0x40) & 0xffc0) + 4), SLP_EN); /* SLP_TYP 0 = S5 */
}

void power_off(int status)
{
	struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) none = {0, 0};

	outb(DEBUG_EXIT_PORT, (uint8_t)status);
	acpi_s5();
	__asm__ volatile("lidt %0; int3" : : "m"(none));
	for (;;)
		__asm__ volatile("cli; hlt");
}
