/* escape.c - making target-controlled names safe for each output. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pyrometer/output.h"

struct sink {
	char *out;
	size_t cap, len;
};

static void put(struct sink *s, char c)
{
	if (s->len + 1 < s->cap)
		s->out[s->len] = c;
	s->len++;
}

static void put_hex(struct sink *s, unsigned char c)
{
	static const char hex[] = "0123456789abcdef";
	put(s, '\\');
	put(s, 'x');
	put(s, hex[c >> 4]);
	put(s, hex[c & 15]);
}

static size_t finish(struct sink *s)
{
	if (s->cap)
		s->out[s->len < s->cap ? s->len : s->cap - 1] = '\0';
	return s->len;
}

static int is_control(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

size_t esc_csv(char *out, size_t cap, const char *s)
{
	struct sink k = { out, cap, 0 };
	/* A cell a spreadsheet would evaluate as a formula is made text. */
	int guard = s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@';
	int quote = strpbrk(s, ",\"\r\n") != NULL;
	if (quote)
		put(&k, '"');
	if (guard)
		put(&k, '\'');
	for (const char *p = s; *p; p++) {
		if (*p == '"')
			put(&k, '"');
		put(&k, *p);
	}
	if (quote)
		put(&k, '"');
	return finish(&k);
}

size_t esc_frame(char *out, size_t cap, const char *s)
{
	struct sink k = { out, cap, 0 };
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == ';')
			put(&k, ':');
		else if (is_control(*p))
			put_hex(&k, *p);
		else
			put(&k, (char)*p);
	}
	return finish(&k);
}

size_t esc_term(char *out, size_t cap, const char *s)
{
	struct sink k = { out, cap, 0 };
	const unsigned char *p = (const unsigned char *)s;
	while (*p) {
		/* C1 controls (U+0080-U+009F, UTF-8 c2 80-9f) act as escapes on
		 * some terminals too. */
		if (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
			put_hex(&k, p[0]);
			put_hex(&k, p[1]);
			p += 2;
			continue;
		}
		if (is_control(*p) || *p == '\\')
			put_hex(&k, *p);
		else
			put(&k, (char)*p);
		p++;
	}
	return finish(&k);
}

void esc_put(FILE *f, size_t (*esc)(char *, size_t, const char *), const char *s)
{
	char small[512];
	size_t need = esc(small, sizeof(small), s);
	if (need < sizeof(small)) {
		fputs(small, f);
		return;
	}
	char *big = malloc(need + 1);
	if (!big) {
		/* cannot happen for names of bounded length; fail visibly */
		fputs("[out of memory]", f);
		return;
	}
	esc(big, need + 1, s);
	fputs(big, f);
	free(big);
}

size_t esc_utf8(const unsigned char *s, size_t n, uint32_t *cp)
{
	unsigned c = s[0];
	size_t len;
	uint32_t v, min;
	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2, v = c & 0x1f, min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3, v = c & 0x0f, min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4, v = c & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	for (size_t i = 1; i < len; i++) {
		if (i >= n || (s[i] & 0xc0) != 0x80)
			return 0;
		v = v << 6 | (s[i] & 0x3fu);
	}
	if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return 0;
	*cp = v;
	return len;
}
