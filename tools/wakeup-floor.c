/*
 * wakeup-floor - what one wakeup from a blocking wait costs this machine in
 * CPU time, with no work done after it. A profiler woken once per sample can
 * not cost less than this per sample; tools/bench prints it beside
 * pyrometer's own figure. Usage: wakeup-floor HZ [COUNT]
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/timerfd.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long hz = argc > 1 ? atol(argv[1]) : 1000;
	long count = argc > 2 ? atol(argv[2]) : 2000;
	if (hz < 1 || hz > 100000 || count < 1) {
		fprintf(stderr, "usage: wakeup-floor HZ [COUNT]\n");
		return 1;
	}
	int ep = epoll_create1(0);
	int tfd = timerfd_create(CLOCK_MONOTONIC, 0);
	struct itimerspec its = { { 0, 1000000000L / hz }, { 0, 1000000000L / hz } };
	struct epoll_event ev = { .events = EPOLLIN };
	if (ep < 0 || tfd < 0 || timerfd_settime(tfd, 0, &its, NULL) < 0 ||
	    epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev) < 0) {
		perror("wakeup-floor");
		return 1;
	}
	for (long i = 0; i < count; i++) {
		unsigned long long expirations;
		if (epoll_wait(ep, &ev, 1, -1) == 1 &&
		    read(tfd, &expirations, sizeof(expirations)) < 0)
			break;
	}
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	double us = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
		    (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
	printf("%.1f\n", us / (double)count);
	return 0;
}
