/* outsel.c - choosing and writing an output (record, report, diff). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "outsel.h"
#include "pyrometer/counts.h"

int outsel_writer(const struct cli_opts *o, const char *path, const struct writer **w)
{
	const char *cmd = o->cmd == CMD_REPORT ? "report" : o->cmd == CMD_DIFF ? "diff" : "record";
	*w = NULL;
	if (o->format) {
		*w = output_by_name(o->format);
		if (!*w) {
			cli_error("unknown --format '%s': use csv, collapsed, svg, speedscope, pprof "
				  "or pyro (see 'pyrometer %s --help')", o->format, cmd);
			return EXIT_USAGE;
		}
	} else if (path) {
		*w = output_for_path(path);
		if (!*w) {
			cli_error("unknown output format for %s: use .csv, .txt or .folded, .svg, "
				  ".speedscope.json, .pb.gz or .pyro, or --format (see 'pyrometer "
				  "%s --help')", path, cmd);
			return EXIT_USAGE;
		}
	}
	if (path) {
		int e = output_check_path(path);
		if (e < 0) {
			cli_error("cannot write %s: %s", path, strerror(-e));
			return EXIT_CANNOT;
		}
	}
	return EXIT_OK;
}

static void list_names(char *out, size_t cap, const char *const *names, size_t n)
{
	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(out);
		snprintf(out + len, cap - len, "%s%s", i ? ", " : "", names[i]);
	}
}

int outsel_keys(const struct cli_opts *o, const char *const *names, const int *roles, size_t n,
		struct output_opts *oo)
{
	char list[1024];
	list_names(list, sizeof(list), names, n);
	if (o->sort && output_sort_key(o->sort, names, roles, n, oo) < 0) {
		cli_error("--sort: '%s' is neither an event of this run (%s) nor a metric "
			  "its events give (ipc, cpi, mpki, cache-miss%%, branch-miss%%, "
			  "faults/ksample)", o->sort, list);
		return EXIT_USAGE;
	}
	if (o->weight) {
		oo->weight_event = 0;
		for (size_t i = 0; i < n; i++)
			if (!strcmp(o->weight, names[i]))
				oo->weight_event = (int)i + 1;
		if (!oo->weight_event) {
			cli_error("--weight: '%s' is not an event of this run (%s)", o->weight, list);
			return EXIT_USAGE;
		}
	}
	if (o->color_by) {
		struct output_opts probe = { 0 };
		if (output_sort_key(o->color_by, names, roles, n, &probe) < 0 ||
		    probe.sort != OUT_SORT_METRIC) {
			cli_error("--color-by: '%s' is not a metric this run's events give (%s); "
				  "metrics: ipc, cpi, mpki, cache-miss%%, branch-miss%%, "
				  "faults/ksample", o->color_by, list);
			return EXIT_USAGE;
		}
		oo->color_by = probe.sort_index + 1;
	}
	return EXIT_OK;
}

int outsel_write(const char *path, const struct writer *w, const struct profile *p,
		 const struct output_opts *oo)
{
	int e;
	if (path)
		e = output_write_file(w ? w : &writer_table, path, p, oo);
	else
		e = (w ? w : &writer_table)->write(stdout, p, oo);
	if (e == 0 && !path && fflush(stdout) != 0)
		e = -errno;
	if (e < 0) {
		cli_error("cannot write %s: %s", path ? path : "the output",
			  e == -ENOSYS ? "this format is not available yet" : strerror(-e));
		return EXIT_CANNOT;
	}
	return EXIT_OK;
}
