/* launch.c - a child that runs its command only once told to. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "launch.h"

int launch_fork(char *const *argv, int quiet, struct launch *l)
{
	int gate[2], err[2];
	l->pid = -1;
	l->gate = l->err = -1;
	if (pipe2(gate, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(err, O_CLOEXEC) < 0) {
		int e = -errno;
		close(gate[0]);
		close(gate[1]);
		return e;
	}
	pid_t pid = fork();
	if (pid < 0) {
		int e = -errno;
		close(gate[0]);
		close(gate[1]);
		close(err[0]);
		close(err[1]);
		return e;
	}
	if (pid == 0) {
		/* The child: the profiler's signal handlers are not the command's. */
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		close(gate[1]);
		close(err[0]);
		if (quiet) {
			int null = open("/dev/null", O_WRONLY);
			if (null >= 0) {
				dup2(null, STDOUT_FILENO);
				dup2(null, STDERR_FILENO);
				if (null > STDERR_FILENO)
					close(null);
			}
		}
		char go;
		/* EOF: the profiler gave up (or died) before opening the gate */
		if (read(gate[0], &go, 1) != 1)
			_exit(127);
		execvp(argv[0], argv);
		int e = errno;
		if (write(err[1], &e, sizeof(e)) < 0)
			_exit(127);
		_exit(127);
	}
	close(gate[0]);
	close(err[1]);
	l->pid = pid;
	l->gate = gate[1];
	l->err = err[0];
	return 0;
}

int launch_go(struct launch *l)
{
	char go = 1;
	int rc = 0;
	if (write(l->gate, &go, 1) != 1)
		rc = -errno;
	close(l->gate);
	l->gate = -1;
	if (rc == 0) {
		int e;
		ssize_t n;
		do
			n = read(l->err, &e, sizeof(e));
		while (n < 0 && errno == EINTR);
		if (n == (ssize_t)sizeof(e))
			rc = -e;
	}
	close(l->err);
	l->err = -1;
	return rc;
}

int launch_wait(struct launch *l)
{
	int st;
	while (waitpid(l->pid, &st, 0) < 0) {
		if (errno != EINTR)
			return 127;
	}
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return 127;
}

void launch_abort(struct launch *l)
{
	if (l->gate >= 0)
		close(l->gate);
	if (l->err >= 0)
		close(l->err);
	l->gate = l->err = -1;
	if (l->pid > 0)
		waitpid(l->pid, NULL, 0);
}
