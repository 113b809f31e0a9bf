/*
 * health_uart.c: COM2 (16550 at 0x2f8) as the health transport, polled.
 * Receiving is polled too: the agent looks at safe points (idle entry, each
 * heartbeat), which avoids routing IRQ 3 through an I/O APIC the runtime does
 * not drive yet; the price is that host messages wait for the next look.
 */
#include "health_transport.h"

#include "cpu.h"

#define COM2 0x2f8
#define REG_DATA 0
#define REG_IER 1
#define REG_FCR 2
#define REG_LCR 3
#define REG_MCR 4
#define REG_LSR 5
#define REG_SCR 7
#define LSR_DR 0x01   /* a received byte is waiting */
#define LSR_THRE 0x20 /* the transmit holding register is empty */
#define LSR_TEMT 0x40 /* the transmitter is idle */
#define SPIN_MAX 100000

static int uart_probe(void)
{
	/* No device at the port reads as 0xff; the scratch register must hold a value. */
	outb(COM2 + REG_SCR, 0x5a);
	if (inb(COM2 + REG_SCR) != 0x5a)
		return 0;
	outb(COM2 + REG_SCR, 0xa5);
	if (inb(COM2 + REG_SCR) != 0xa5)
		return 0;
	outb(COM2 + REG_IER, 0x00);  /* polled: no interrupts */
	outb(COM2 + REG_LCR, 0x80);  /* DLAB */
	outb(COM2 + REG_DATA, 0x01); /* 115200 baud (meaningless for an emulated UART) */
	outb(COM2 + REG_IER, 0x00);
	outb(COM2 + REG_LCR, 0x03); /* 8N1 */
	outb(COM2 + REG_FCR, 0xc7); /* FIFOs on and cleared */
	outb(COM2 + REG_MCR, 0x03); /* DTR, RTS */
	return 1;
}

static size_t uart_write(const uint8_t *buf, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		int n = 0;

		/* Bounded: a host that stopped reading must not hang the guest. */
		while (!(inb(COM2 + REG_LSR) & LSR_THRE))
			if (++n == SPIN_MAX)
				return i;
		outb(COM2 + REG_DATA, buf[i]);
	}
	return len;
}

static void uart_flush(void)
{
	for (int n = 0; n < SPIN_MAX && !(inb(COM2 + REG_LSR) & LSR_TEMT); n++)
		;
}

static size_t uart_read(uint8_t *buf, size_t len)
{
	size_t n = 0;

	while (n < len && (inb(COM2 + REG_LSR) & LSR_DR))
		buf[n++] = inb(COM2 + REG_DATA);
	return n;
}

const struct health_transport health_uart_com2 = {
	.name = "COM2",
	.probe = uart_probe,
	.write = uart_write,
	.flush = uart_flush,
	.read = uart_read,
};
