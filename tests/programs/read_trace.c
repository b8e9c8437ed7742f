/*
 * read_trace.c: the tracer tests' driver: reads the tracer's tables from a
 * core through hw_tracer_* and prints, per group (innermost frame's
 * function, or its file:line), the recorded count and requested bytes and
 * the sampling-weighted estimates:
 *
 *   read_trace CORE|--pid=PID function|lineno|stack2|stack [SIZE]
 *
 * With SIZE, only entries whose requested size is SIZE are counted.
 *
 * stack2 keys are "FUNCTION@FILE:LINE<CALLER": the innermost frame and the
 * function of the next one.
 *   # mode all sample 0 live N sites M problems P python V shadowed S
 *   KEY<TAB>COUNT<TAB>BYTES<TAB>EST_COUNT<TAB>EST_BYTES
 */
#include "heapwalk.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct group {
	char key[512];
	uint64_t count, bytes;
	double est_count, est_bytes;
};

static struct group *groups;
static size_t ngroups, capgroups;
static hw_tracer *tr;
static int by_line, by_stack2, by_stack;
static long only_size = -1;

static struct group *group_of(const char *key)
{
	for (size_t i = 0; i < ngroups; i++)
		if (!strcmp(groups[i].key, key))
			return &groups[i];
	if (ngroups == capgroups) {
		capgroups = capgroups ? 2 * capgroups : 64;
		groups = realloc(groups, capgroups * sizeof(*groups));
		if (!groups)
			exit(3);
	}
	struct group *g = &groups[ngroups++];
	memset(g, 0, sizeof(*g));
	snprintf(g->key, sizeof g->key, "%s", key);
	return g;
}

static int visit(void *ctx, uint64_t address, uint32_t site, uint64_t requested)
{
	hw_frame fr[256];
	size_t n = 256;
	if (only_size >= 0 && requested != (uint64_t)only_size)
		return 0;
	char key[512] = "?";
	if (hw_tracer_site_frames(tr, site, fr, &n) == HW_OK && n > 0) {
		if (by_stack) {
			size_t at = 0;
			for (size_t i = 0; i < n && at + 1 < sizeof key; i++)
				at += (size_t)snprintf(key + at, sizeof key - at, "%s%s",
				                       i ? "<" : "",
				                       fr[i].function ? fr[i].function : "?");
		} else if (by_stack2)
			snprintf(key, sizeof key, "%s@%s:%d<%s",
			         fr[0].function ? fr[0].function : "?",
			         fr[0].file ? fr[0].file : "?", fr[0].line,
			         n > 1 && fr[1].function ? fr[1].function : "?");
		else if (by_line)
			snprintf(key, sizeof key, "%s:%d", fr[0].file ? fr[0].file : "?",
			         fr[0].line);
		else
			snprintf(key, sizeof key, "%s", fr[0].function ? fr[0].function : "?");
	}
	struct group *g = group_of(key);
	double w = hw_tracer_weight(tr, requested);
	g->count++;
	g->bytes += requested;
	g->est_count += w;
	g->est_bytes += w * (double)requested;
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4)
		only_size = atol(argv[3]);
	if (argc != 3 && argc != 4) {
		fprintf(stderr, "usage: read_trace CORE function|lineno|stack2|stack\n");
		return 2;
	}
	by_line = !strcmp(argv[2], "lineno");
	by_stack2 = !strcmp(argv[2], "stack2");
	by_stack = !strcmp(argv[2], "stack");
	hw_target *t;
	int rc = strncmp(argv[1], "--pid=", 6) == 0
	             ? hw_target_open_pid(&t, (pid_t)atoi(argv[1] + 6), NULL)
	             : hw_target_open_core(&t, argv[1], NULL);
	if (rc != HW_OK) {
		fprintf(stderr, "read_trace: %s: %s\n", argv[1], hw_error_last());
		return 3;
	}
	if (hw_tracer_open(&tr, t) != HW_OK) {
		fprintf(stderr, "read_trace: %s: %s\n", argv[1], hw_error_last());
		hw_target_close(t);
		return 3;
	}
	const hw_tracer_summary *s = hw_tracer_get_summary(tr);
	const hw_problem *pr;
	size_t np = hw_tracer_problems(tr, &pr);
	printf(
	    "# mode %s sample %llu live %llu sites %llu problems %zu python %llx shadowed %llu\n",
	    s->mode, (unsigned long long)s->sample_bytes, (unsigned long long)s->live_allocations,
	    (unsigned long long)s->sites, np, (unsigned long long)s->python_version,
	    (unsigned long long)s->shadowed);
	for (size_t i = 0; i < np; i++)
		printf("# problem %s: %s\n", pr[i].kind, pr[i].message);
	hw_tracer_foreach(tr, visit, NULL);
	for (size_t i = 0; i < ngroups; i++)
		printf("%s\t%llu\t%llu\t%.1f\t%.1f\n", groups[i].key,
		       (unsigned long long)groups[i].count, (unsigned long long)groups[i].bytes,
		       groups[i].est_count, groups[i].est_bytes);
	hw_tracer_close(tr);
	hw_target_close(t);
	return 0;
}
