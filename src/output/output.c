/* output.c - choosing a writer and writing files whole or not at all. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pyrometer/counts.h"
#include "pyrometer/output.h"

static const struct writer *const writers[] = {
	&writer_csv, &writer_folded, &writer_svg, &writer_speedscope, &writer_pprof, &writer_pyro,
};

static int ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a > b && strcmp(s + a - b, suffix) == 0;
}

const struct writer *output_for_path(const char *path)
{
	for (size_t i = 0; i < sizeof(writers) / sizeof(writers[0]); i++)
		for (const char *const *e = writers[i]->exts; *e; e++)
			if (ends_with(path, *e))
				return writers[i];
	return NULL;
}

const struct writer *output_by_name(const char *name)
{
	for (size_t i = 0; i < sizeof(writers) / sizeof(writers[0]); i++)
		if (strcmp(writers[i]->name, name) == 0)
			return writers[i];
	return NULL;
}

/* Create "PATH.tmp.??????" (mkstemp's template: six placeholder letters)
 * next to path. Returns the fd, or -errno. */
static int temp_next_to(const char *path, char *tmp, size_t cap)
{
	int n = snprintf(tmp, cap, "%s.tmp.", path);
	if (n < 0 || (size_t)n + 7 > cap)
		return -ENAMETOOLONG;
	memset(tmp + n, 'X', 6);
	tmp[n + 6] = '\0';
	int fd = mkstemp(tmp);
	return fd < 0 ? -errno : fd;
}

int output_check_path(const char *path)
{
	/* The surest test is the one the real write will do: create a
	 * temporary file next to the destination, then remove it. */
	char tmp[4200];
	int fd = temp_next_to(path, tmp, sizeof(tmp));
	if (fd < 0)
		return fd;
	close(fd);
	unlink(tmp);
	if (access(path, F_OK) == 0 && access(path, W_OK) != 0)
		return -errno;
	return 0;
}

int output_write_file(const struct writer *w, const char *path, const struct profile *p,
		      const struct output_opts *o)
{
	char tmp[4200];
	int fd = temp_next_to(path, tmp, sizeof(tmp));
	if (fd < 0)
		return fd;
	FILE *f = fdopen(fd, "w");
	if (!f) {
		int err = -errno;
		close(fd);
		unlink(tmp);
		return err;
	}
	int r = w->write(f, p, o);
	if (fflush(f) != 0 && r == 0)
		r = -errno;
	if (r == 0 && fsync(fileno(f)) != 0)
		r = -errno;
	if (fclose(f) != 0 && r == 0)
		r = -errno;
	/* mkstemp makes 0600; an output file is an ordinary file */
	if (r == 0) {
		mode_t um = umask(0);
		umask(um);
		chmod(tmp, 0666 & ~um);
	}
	if (r == 0 && rename(tmp, path) != 0)
		r = -errno;
	if (r != 0)
		unlink(tmp);
	return r;
}

int output_sort_key(const char *key, const char *const *names, const int *roles, size_t n,
		    struct output_opts *o)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(key, names[i]) == 0) {
			o->sort = OUT_SORT_EVENT;
			o->sort_index = (int)i;
			return 0;
		}
	}
	int m = metric_by_key(key);
	if (m < 0)
		return -1;
	enum metric have[MET_N];
	int where[COUNTS_ROLES];
	size_t nm = metrics_for(roles, n, have, where);
	for (size_t i = 0; i < nm; i++) {
		if ((int)have[i] == m) {
			o->sort = OUT_SORT_METRIC;
			o->sort_index = m;
			return 0;
		}
	}
	return -1;
}
