// SPDX-License-Identifier: MIT OR Apache-2.0
/*
 * The printf callback for libbpf's btf_dump. libbpf hands the callback a va_list, which stable
 * Rust cannot consume, so this shim formats the text and appends it to a buffer owned by the
 * Rust side (src/libbpf/dump.rs), calling back into Rust only when the buffer is full.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/btf.h>

/* Laid out as `Sink` in src/libbpf/dump.rs. */
struct coretool_sink {
	/* write out buf[0..len], then take data[0..n] (into buf or straight out); len is updated */
	void (*overflow)(struct coretool_sink *sink, const char *data, size_t n);
	/* formatting failed (vsnprintf error or out of memory) */
	void (*fail)(struct coretool_sink *sink);
	char *buf;
	size_t len;
	size_t cap;
};

static void put(struct coretool_sink *s, const char *data, size_t n)
{
	if (n <= s->cap - s->len) {
		memcpy(s->buf + s->len, data, n);
		s->len += n;
		return;
	}
	s->overflow(s, data, n);
}

/*
 * btf_dump prints a vmlinux.h with hundreds of thousands of tiny printf calls. Formats made
 * only of text, %s, %c, %d, %u, %ld, %lu, %lld, %llu and %% (nearly all of them) are formatted
 * here, as glibc would, without vsnprintf's per-call setup; anything else goes to vsnprintf.
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
 * (a small direct-mapped cache per thread; a miss just scans again).
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

static void put_unsigned(struct coretool_sink *s, unsigned long long v, int negative)
{
	char digits[24];
	int i = sizeof(digits);

	do {
		digits[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	if (negative)
		digits[--i] = '-';
	put(s, digits + i, sizeof(digits) - i);
}

static void put_signed(struct coretool_sink *s, long long v)
{
	if (v < 0)
		put_unsigned(s, 0ULL - (unsigned long long)v, 1);
	else
		put_unsigned(s, (unsigned long long)v, 0);
}

static void format_simple(struct coretool_sink *s, const char *fmt, va_list args)
{
	const char *p = fmt, *text;

	while (*p) {
		text = p;
		while (*p && *p != '%')
			p++;
		if (p != text)
			put(s, text, (size_t)(p - text));
		if (!*p)
			break;
		p++; /* the '%' */
		switch (*p) {
		case 's': {
			const char *str = va_arg(args, const char *);

			if (!str)
				str = "(null)";
			put(s, str, strlen(str));
			break;
		}
		case 'c': {
			char ch = (char)va_arg(args, int);

			put(s, &ch, 1);
			break;
		}
		case 'd':
			put_signed(s, va_arg(args, int));
			break;
		case 'u':
			put_unsigned(s, va_arg(args, unsigned int), 0);
			break;
		case '%':
			put(s, "%", 1);
			break;
		case 'l':
			if (p[1] == 'l') {
				p++;
				if (p[1] == 'd')
					put_signed(s, va_arg(args, long long));
				else
					put_unsigned(s, va_arg(args, unsigned long long), 0);
			} else if (p[1] == 'd') {
				put_signed(s, va_arg(args, long));
			} else {
				put_unsigned(s, va_arg(args, unsigned long), 0);
			}
			p++;
			break;
		}
		p++;
	}
}

static void coretool_btf_dump_printf(void *ctx, const char *fmt, va_list args)
{
	struct coretool_sink *sink = ctx;
	char small[512];
	va_list copy;
	char *big;
	int n;

	va_copy(copy, args);
	if (simple_format_cached(fmt)) {
		format_simple(sink, fmt, copy);
		va_end(copy);
		return;
	}
	n = vsnprintf(small, sizeof(small), fmt, copy);
	va_end(copy);
	if (n < 0) {
		sink->fail(sink);
		return;
	}
	if ((size_t)n < sizeof(small)) {
		put(sink, small, (size_t)n);
		return;
	}
	big = malloc((size_t)n + 1);
	if (!big) {
		sink->fail(sink);
		return;
	}
	vsnprintf(big, (size_t)n + 1, fmt, args);
	put(sink, big, (size_t)n);
	free(big);
}

/* The callback, typed exactly as libbpf declares it, so Rust never spells out va_list. */
btf_dump_printf_fn_t coretool_btf_dump_printf_fn(void)
{
	return coretool_btf_dump_printf;
}
