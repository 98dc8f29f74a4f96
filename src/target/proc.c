/* proc.c - what /proc says about the target. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pyrometer/target.h"

int target_check(pid_t pid)
{
	char path[64];

	if (pid <= 0)
		return -ESRCH;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (access(path, F_OK) != 0)
		return -ESRCH;
	/* A thread id that is not a process (tgid) is not a target. */
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return errno == EACCES ? -EACCES : -ESRCH;
	char line[256];
	int tgid = -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Tgid: %d", &tgid) == 1)
			break;
	fclose(f);
	return tgid == pid ? 0 : -ESRCH;
}

static ssize_t read_small_file(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	size_t got = 0;
	while (got + 1 < cap) {
		ssize_t r = read(fd, buf + got, cap - 1 - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	buf[got] = '\0';
	return (ssize_t)got;
}

void target_comm(pid_t pid, pid_t tid, char *buf, size_t cap)
{
	char path[64];

	if (!cap)
		return;
	snprintf(path, sizeof(path), "/proc/%d/task/%d/comm", (int)pid, (int)tid);
	ssize_t n = read_small_file(path, buf, cap);
	if (n <= 0) {
		buf[0] = '\0';
		return;
	}
	if (buf[n - 1] == '\n')
		buf[n - 1] = '\0';
}

void target_cmdline(pid_t pid, char *buf, size_t cap)
{
	char path[64];

	if (!cap)
		return;
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	ssize_t n = read_small_file(path, buf, cap);
	if (n <= 0) {
		buf[0] = '\0';
		return;
	}
	for (ssize_t i = 0; i < n; i++)
		if (buf[i] == '\0')
			buf[i] = ' ';
	while (n > 0 && buf[n - 1] == ' ')
		buf[--n] = '\0';
}

int target_threads(pid_t pid, pid_t *tids, int cap)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	DIR *d = opendir(path);
	if (!d)
		return -errno;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		char *end;
		long t = strtol(e->d_name, &end, 10);
		if (*end || t <= 0)
			continue;
		if (n < cap)
			tids[n] = (pid_t)t;
		n++;
	}
	closedir(d);
	return n;
}

int target_maps_read(pid_t pid, struct target_maps *out)
{
	char path[64];

	out->v = NULL;
	out->n = 0;
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return -errno;
	size_t cap = 0;
	char *line = NULL;
	size_t linecap = 0;
	int err = 0;
	while (getline(&line, &linecap, f) > 0) {
		struct target_map m = { 0 };
		int pathpos = 0;
		if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %4s %" SCNx64 " %x:%x %" SCNu64 " %n",
			   &m.start, &m.end, m.perms, &m.offset, &m.dev_major, &m.dev_minor,
			   &m.inode, &pathpos) < 7)
			continue;
		char *p = line + pathpos;
		p[strcspn(p, "\n")] = '\0';
		if (*p) {
			m.path = strdup(p);
			if (!m.path) {
				err = -ENOMEM;
				break;
			}
		}
		if (out->n == cap) {
			size_t ncap = cap ? cap * 2 : 256;
			struct target_map *nv = realloc(out->v, ncap * sizeof(*nv));
			if (!nv) {
				free(m.path);
				err = -ENOMEM;
				break;
			}
			out->v = nv;
			cap = ncap;
		}
		out->v[out->n++] = m;
	}
	/* A process we may not look at gives an empty file, not an error. */
	if (!err && ferror(f))
		err = -EIO;
	free(line);
	fclose(f);
	if (err)
		target_maps_release(out);
	return err;
}

void target_maps_release(struct target_maps *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->v[i].path);
	free(m->v);
	m->v = NULL;
	m->n = 0;
}
