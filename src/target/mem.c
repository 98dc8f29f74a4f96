/* mem.c - reading the target's memory without stopping it. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/uio.h>
#include <unistd.h>

#include "pyrometer/target.h"

/* process_vm_readv takes at most IOV_MAX pieces; we send smaller batches. */
#define BATCH 64

void target_mem_init(struct target_mem *m, pid_t pid)
{
	m->pid = pid;
	m->memfd = -1;
	m->use_procmem = 0;
	m->reads = 0;
	m->failures = 0;
}

void target_mem_release(struct target_mem *m)
{
	if (m->memfd >= 0)
		close(m->memfd);
	m->memfd = -1;
}

static int open_procmem(struct target_mem *m)
{
	char path[64];

	if (m->memfd >= 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)m->pid);
	m->memfd = open(path, O_RDONLY | O_CLOEXEC);
	return m->memfd < 0 ? -errno : 0;
}

static ssize_t procmem_read(struct target_mem *m, uint64_t addr, void *buf, size_t len)
{
	if (open_procmem(m) < 0)
		return -errno;
	ssize_t r;
	do
		r = pread(m->memfd, buf, len, (off_t)addr);
	while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : r;
}

/* EPERM from process_vm_readv with a readable /proc/PID/mem happens in some
 * sandboxes (seccomp); switch once and stay switched. */
static int should_fall_back(struct target_mem *m, int err)
{
	if (m->use_procmem || (err != EPERM && err != ENOSYS))
		return 0;
	if (open_procmem(m) < 0)
		return 0;
	m->use_procmem = 1;
	return 1;
}

ssize_t target_read_partial(struct target_mem *m, uint64_t addr, void *buf, size_t len)
{
	m->reads++;
	if (!m->use_procmem) {
		struct iovec local = { buf, len };
		struct iovec remote = { (void *)(uintptr_t)addr, len };
		ssize_t r = process_vm_readv(m->pid, &local, 1, &remote, 1, 0);
		if (r >= 0)
			return r;
		int err = errno;
		if (!should_fall_back(m, err)) {
			m->failures++;
			return -err;
		}
	}
	ssize_t r = procmem_read(m, addr, buf, len);
	if (r < 0)
		m->failures++;
	return r;
}

int target_read(struct target_mem *m, uint64_t addr, void *buf, size_t len)
{
	ssize_t r = target_read_partial(m, addr, buf, len);
	if (r < 0)
		return (int)r;
	if ((size_t)r != len) {
		m->failures++;
		return -EFAULT;
	}
	return 0;
}

int target_readv(struct target_mem *m, const struct target_iov *iov, int n)
{
	int done = 0;

	while (done < n) {
		if (m->use_procmem) {
			if (target_read(m, iov[done].addr, iov[done].buf, iov[done].len) < 0)
				return done;
			done++;
			continue;
		}
		struct iovec local[BATCH], remote[BATCH];
		int k = n - done < BATCH ? n - done : BATCH;
		size_t want = 0;
		for (int i = 0; i < k; i++) {
			local[i].iov_base = iov[done + i].buf;
			local[i].iov_len = iov[done + i].len;
			remote[i].iov_base = (void *)(uintptr_t)iov[done + i].addr;
			remote[i].iov_len = iov[done + i].len;
			want += iov[done + i].len;
		}
		m->reads++;
		ssize_t r = process_vm_readv(m->pid, local, (unsigned long)k, remote,
					     (unsigned long)k, 0);
		if (r < 0) {
			int err = errno;
			if (should_fall_back(m, err))
				continue;
			m->failures++;
			return done ? done : -err;
		}
		if ((size_t)r == want) {
			done += k;
			continue;
		}
		/* A short read stops at the first piece that faulted. */
		size_t left = (size_t)r;
		for (int i = 0; i < k && left >= iov[done].len; i++) {
			left -= iov[done].len;
			done++;
		}
		m->failures++;
		return done;
	}
	return done;
}
