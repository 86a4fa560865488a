// SPDX-License-Identifier: MIT OR Apache-2.0
/*
 * The printf callback for libbpf's btf_dump. libbpf hands the callback a va_list, which stable
 * Rust cannot consume, so this shim formats with vsnprintf and passes the bytes on to a Rust
 * sink (src/btf_dump.rs). The sink is a struct whose first member is the function to call.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include <bpf/btf.h>

struct coretool_sink {
	void (*write)(struct coretool_sink *sink, const char *data, size_t len);
};

static void coretool_btf_dump_printf(void *ctx, const char *fmt, va_list args)
{
	struct coretool_sink *sink = ctx;
	char small[512];
	va_list copy;
	char *big;
	int n;

	va_copy(copy, args);
	n = vsnprintf(small, sizeof(small), fmt, copy);
	va_end(copy);
	if (n < 0) {
		/* an encoding error: tell the sink with a NULL chunk */
		sink->write(sink, NULL, 0);
		return;
	}
	if ((size_t)n < sizeof(small)) {
		sink->write(sink, small, (size_t)n);
		return;
	}
	big = malloc((size_t)n + 1);
	if (!big) {
		sink->write(sink, NULL, 0);
		return;
	}
	vsnprintf(big, (size_t)n + 1, fmt, args);
	sink->write(sink, big, (size_t)n);
	free(big);
}

/* The callback, typed exactly as libbpf declares it, so Rust never spells out va_list. */
btf_dump_printf_fn_t coretool_btf_dump_printf_fn(void)
{
	return coretool_btf_dump_printf;
}
