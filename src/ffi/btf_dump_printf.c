// SPDX-License-Identifier: MIT OR Apache-2.0
/*
 * The printf callback for libbpf's btf_dump. libbpf hands the callback a va_list, which stable
 * Rust cannot consume, so this shim formats with vsnprintf and passes the bytes on to a Rust
 * sink (src/btf_dump.rs). The sink is a struct whose first member is the function to call.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/btf.h>

struct coretool_sink {
	void (*write)(struct coretool_sink *sink, const char *data, size_t len);
};

/*
 * btf_dump prints a vmlinux.h with millions of tiny printf calls. Formats made only of text,
 * %s, %c, %d, %u, %ld, %lu, %lld, %llu and %% (nearly all of them) are formatted here, as glibc
 * would, without vsnprintf's per-call setup; anything else goes to vsnprintf.
 */
static int is_simple_format(const char *fmt)
{
	const char *p;

	for (p = fmt; *p; p++) {
		if (*p != '%')
			continue;
		p++;
		if (*p == 'l') {
			p++;
			if (*p == 'l')
				p++;
			if (*p != 'd' && *p != 'u')
				return 0;
		} else if (*p != 's' && *p != 'c' && *p != 'd' && *p != 'u' && *p != '%') {
			return 0;
		}
	}
	return 1;
}

/*
 * libbpf's formats are string literals: remember the verdict for recently seen addresses
 * (a small direct-mapped cache; a miss just scans again).
 */
static int simple_format_cached(const char *fmt)
{
	static _Thread_local const char *seen[64];
	static _Thread_local unsigned char verdict[64];
	size_t slot = ((size_t)fmt >> 3) % 64;

	if (seen[slot] != fmt) {
		verdict[slot] = (unsigned char)is_simple_format(fmt);
		seen[slot] = fmt;
	}
	return verdict[slot];
}

struct chunk {
	struct coretool_sink *sink;
	size_t len;
	char buf[512];
};

static void chunk_flush(struct chunk *c)
{
	if (c->len)
		c->sink->write(c->sink, c->buf, c->len);
	c->len = 0;
}

static void chunk_put(struct chunk *c, const char *s, size_t n)
{
	while (n) {
		size_t room = sizeof(c->buf) - c->len;
		size_t take = n < room ? n : room;

		memcpy(c->buf + c->len, s, take);
		c->len += take;
		s += take;
		n -= take;
		if (c->len == sizeof(c->buf))
			chunk_flush(c);
	}
}

static void chunk_unsigned(struct chunk *c, unsigned long long v, int negative)
{
	char digits[24];
	int i = sizeof(digits);

	do {
		digits[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	if (negative)
		digits[--i] = '-';
	chunk_put(c, digits + i, sizeof(digits) - i);
}

static void chunk_signed(struct chunk *c, long long v)
{
	if (v < 0)
		chunk_unsigned(c, 0ULL - (unsigned long long)v, 1);
	else
		chunk_unsigned(c, (unsigned long long)v, 0);
}

static void format_simple(struct coretool_sink *sink, const char *fmt, va_list args)
{
	struct chunk c;
	const char *p = fmt, *text;

	c.sink = sink;
	c.len = 0;
	while (*p) {
		text = p;
		while (*p && *p != '%')
			p++;
		chunk_put(&c, text, (size_t)(p - text));
		if (!*p)
			break;
		p++; /* the '%' */
		switch (*p) {
		case 's': {
			const char *s = va_arg(args, const char *);

			if (!s)
				s = "(null)";
			chunk_put(&c, s, strlen(s));
			break;
		}
		case 'c': {
			char ch = (char)va_arg(args, int);

			chunk_put(&c, &ch, 1);
			break;
		}
		case 'd':
			chunk_signed(&c, va_arg(args, int));
			break;
		case 'u':
			chunk_unsigned(&c, va_arg(args, unsigned int), 0);
			break;
		case '%':
			chunk_put(&c, "%", 1);
			break;
		case 'l':
			if (p[1] == 'l') {
				p++;
				if (p[1] == 'd')
					chunk_signed(&c, va_arg(args, long long));
				else
					chunk_unsigned(&c, va_arg(args, unsigned long long), 0);
			} else if (p[1] == 'd') {
				chunk_signed(&c, va_arg(args, long));
			} else {
				chunk_unsigned(&c, va_arg(args, unsigned long), 0);
			}
			p++;
			break;
		}
		p++;
	}
	chunk_flush(&c);
}

static void coretool_btf_dump_printf(void *ctx, const char *fmt, va_list args)
{
	struct coretool_sink *sink = ctx;
	char small[512];
	va_list copy;
	char *big;
	int n;

	if (simple_format_cached(fmt)) {
		va_copy(copy, args);
		format_simple(sink, fmt, copy);
		va_end(copy);
		return;
	}
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
