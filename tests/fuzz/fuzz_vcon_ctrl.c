/*
 * fuzz_vcon_ctrl.c: libFuzzer target for the guest's virtio-console control
 * protocol (drivers/virtio_console_ctrl.c), which runs on what the host's
 * device model sends.
 *
 * The input is a sequence of control buffers, each: u8 reported length (the
 * device's word, possibly larger than the buffer), u8 bytes present, then
 * those bytes, copied into a 128-byte buffer as the driver's are. The first
 * byte picks max_nr_ports. Invariants checked after every buffer: the port
 * in use is -1 or a port that has queues and was added; a reply names a port
 * that has queues; opening happens once, only with a reply PORT_OPEN.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I drivers \
 *	tests/fuzz/fuzz_vcon_ctrl.c drivers/virtio_console_ctrl.c -o fuzz_vcon_ctrl
 *   ./fuzz_vcon_ctrl -max_total_time=3600 CORPUS_DIR   (the long run)
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "virtio_console_ctrl.h"

#define BUF 128

static void put(uint8_t *b, uint32_t id, uint16_t ev, uint16_t val)
{
	struct vcon_ctrl_msg m = {id, ev, val};

	memcpy(b, &m, sizeof(m));
}

/*
 * Self-test of the harness's model before fuzzing: QEMU's sequence for one
 * named port (PORT_ADD, PORT_NAME with a NUL, PORT_OPEN) opens it, and a
 * name truncated by the buffer does not.
 */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char name[] = "org.ukd.health.0";
	struct vcon_ctrl c;
	struct vcon_ctrl_action a;
	uint8_t b[BUF];

	(void)argc, (void)argv;
	vcon_ctrl_init(&c, 31, name);
	put(b, 1, VCON_C_PORT_ADD, 1);
	vcon_ctrl_receive(&c, b, 8, BUF, &a);
	if (!a.reply || a.reply_msg.event != VCON_C_PORT_READY)
		abort();
	put(b, 1, VCON_C_PORT_NAME, 1);
	memcpy(b + 8, name, sizeof(name));
	vcon_ctrl_receive(&c, b, 8 + 10, 8 + 10, &a); /* truncated: reported 18 of 25 */
	if (a.open || c.port != -1)
		abort();
	vcon_ctrl_receive(&c, b, 8 + sizeof(name), BUF, &a);
	if (!a.open || c.port != 1)
		abort();
	put(b, 1, VCON_C_PORT_OPEN, 1);
	vcon_ctrl_receive(&c, b, 8, BUF, &a);
	if (!a.host_opened || !c.host_open)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vcon_ctrl c;
	struct vcon_ctrl_action a;
	uint8_t buf[BUF];
	size_t off = 1;
	int opened = 0;

	if (size < 1)
		return 0;
	vcon_ctrl_init(&c, data[0] % 40, "org.ukd.health.0");
	if (c.nports > VCON_MAX_PORT)
		abort();
	while (off + 2 <= size) {
		uint32_t reported = data[off], n = data[off + 1] % (BUF + 1);

		off += 2;
		if (n > size - off)
			n = (uint32_t)(size - off);
		memset(buf, 0xee, sizeof(buf));
		memcpy(buf, data + off, n);
		off += n;
		vcon_ctrl_receive(&c, buf, reported, n, &a);
		if (c.port != -1 &&
		    (c.port < 1 || (uint32_t)c.port >= c.nports || !c.added[c.port]))
			abort();
		if (a.reply && (a.reply_msg.id < 1 || a.reply_msg.id >= c.nports))
			abort();
		if (a.open && (opened++ || !a.reply || a.reply_msg.event != VCON_C_PORT_OPEN ||
			       (int)a.reply_msg.id != c.port))
			abort();
		if (a.removed)
			opened = 0;
		if (c.host_open && c.port < 0)
			abort();
	}
	return 0;
}
