/* text.c - names from the target, made safe and fit for the screen. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "pyrometer/output.h"
#include "ui.h"

/* Characters that draw nothing but change how the terminal lays out the
 * text around them: bidirectional overrides and isolates, invisible
 * separators, the byte order mark. They are shown as \uXXXX. */
static int is_format_char(uint32_t c)
{
	return (c >= 0x200b && c <= 0x200f) || (c >= 0x2028 && c <= 0x202e) ||
	       (c >= 0x2060 && c <= 0x206f) || c == 0xfeff || (c >= 0xfff9 && c <= 0xfffb);
}

struct fit {
	wchar_t *out;
	size_t cap, n;
	int cols, max;
};

/* Append c taking w cells; 0 when it does not fit (the text ends there). */
static int put(struct fit *f, wchar_t c, int w)
{
	if (f->cols + w > f->max || f->n + 1 >= f->cap)
		return 0;
	f->out[f->n++] = c;
	f->cols += w;
	return 1;
}

static int put_ascii(struct fit *f, const char *s)
{
	/* All or nothing, so an escape is never shown cut in half. */
	size_t len = strlen(s);
	if (f->cols + (int)len > f->max || f->n + len >= f->cap)
		return 0;
	while (*s)
		put(f, (wchar_t)(unsigned char)*s++, 1);
	return 1;
}

/* One character of the escaped text at p (n bytes left); its length. */
static size_t put_char(struct fit *f, const unsigned char *p, size_t n, int utf8, int *full)
{
	uint32_t cp;
	size_t len = *p < 0x80 ? 1 : esc_utf8(p, n, &cp);
	if (*p < 0x80) {
		*full = !put(f, (wchar_t)*p, 1);
		return 1;
	}
	if (!len) {                     /* not UTF-8: one replacement per byte */
		*full = !put(f, utf8 ? 0xfffd : '?', 1);
		return 1;
	}
	if (!utf8) {                    /* a terminal that cannot show it */
		*full = !put(f, '?', 1);
		return len;
	}
	if (is_format_char(cp)) {
		char hex[16];
		snprintf(hex, sizeof(hex), "\\u%04x", (unsigned)cp);
		*full = !put_ascii(f, hex);
		return len;
	}
	int w = wcwidth((wchar_t)cp);
	if (w < 0) {
		cp = 0xfffd;
		w = 1;
	}
	*full = !put(f, (wchar_t)cp, w);
	return len;
}

/* escaped: s came from esc_term, where every backslash starts a \xNN. */
static size_t fit(wchar_t *out, size_t cap, const char *s, int utf8, int maxcols, int *cols,
		  int escaped)
{
	struct fit f = { out, cap, 0, 0, maxcols < 0 ? 0 : maxcols };
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s);
	int full = 0;
	while (n && !full) {
		size_t len;
		if (*p < 0x20 || *p == 0x7f) {  /* not in our own texts; never raw */
			full = !put(&f, '?', 1);
			len = 1;
		} else if (escaped && *p == '\\' && n >= 4) {
			char esc[5] = { (char)p[0], (char)p[1], (char)p[2], (char)p[3], 0 };
			full = !put_ascii(&f, esc);
			len = 4;
		} else {
			len = put_char(&f, p, n, utf8, &full);
		}
		p += len;
		n -= len;
	}
	if (cap)
		out[f.n < cap ? f.n : cap - 1] = L'\0';
	if (cols)
		*cols = f.cols;
	return f.n;
}

size_t text_fit(wchar_t *out, size_t cap, const char *s, int utf8, int maxcols, int *cols)
{
	return fit(out, cap, s, utf8, maxcols, cols, 0);
}

size_t text_safe(wchar_t *out, size_t cap, const char *s, int utf8, int maxcols, int *cols)
{
	char small[1024], *esc = small;
	size_t need = esc_term(small, sizeof(small), s);
	if (need >= sizeof(small)) {
		char *big = malloc(need + 1);
		if (big) {              /* else the cut copy will do */
			esc_term(big, need + 1, s);
			esc = big;
		}
	}
	size_t n = fit(out, cap, esc, utf8, maxcols, cols, 1);
	if (esc != small)
		free(esc);
	return n;
}
