/*
 * driver.c: runs a libFuzzer-style target (LLVMFuzzerTestOneInput) without
 * libFuzzer, as a regression test in make check (and so under ASan+UBSan):
 * every seed the target provides (fuzz_seeds) and every file named on the
 * command line, then a fixed number of deterministic mutations of each
 * (bit flips, byte stores, truncations, splices).  Any crash, hang (an
 * input running over INPUT_SECONDS), sanitizer report, or a peak resident
 * size over MAX_RSS_MB (memory must stay bounded, whatever the input: the
 * inputs are at most a few MiB) fails the test.
 *
 * Built with clang and libFuzzer instead (make fuzz), the same target
 * runs under libFuzzer proper.
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* (ASan's shadow and quarantine included) */
#define MAX_RSS_MB 1024

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Seeds: the target fills bufs and lens with n seed inputs (malloc): */
size_t fuzz_seeds(uint8_t ***bufs, size_t **lens);

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* An input that runs longer than this is a hang: the test fails at once,
 * saying so, instead of running until the harness gives up. */
#define INPUT_SECONDS 20

static void on_alarm(int sig)
{
	static const char msg[] = "fuzz driver: an input ran over 20 s (INPUT_SECONDS): a hang\n";
	(void)sig;
	if (write(2, msg, sizeof msg - 1) < 0) {
		/* nothing more to say */
	}
	_exit(1);
}

static void run_one(const uint8_t *data, size_t size)
{
	alarm(INPUT_SECONDS);
	LLVMFuzzerTestOneInput(data, size);
	alarm(0);
}

static void mutate_and_run(const uint8_t *seed, size_t len, int rounds)
{
	uint8_t *buf = malloc(len + 64);
	for (int r = 0; r < rounds; r++) {
		size_t n = len;
		memcpy(buf, seed, len);
		int edits = 1 + (int)(next() % 8);
		for (int e = 0; e < edits && n; e++) {
			size_t at = next() % n;
			/* the headers and metadata live early: bias towards them */
			if (next() % 2)
				at %= (n < 4096 ? n : 4096);
			switch (next() % 5) {
			case 0:
				buf[at] ^= (uint8_t)(1u << (next() % 8));
				break;
			case 1:
				buf[at] = (uint8_t)next();
				break;
			case 2:
				n = at; /* truncate */
				break;
			case 3: { /* an interesting value */
				static const uint64_t v[] = {
				    0, 1, 0xff, 0x7fffffff, 0xffffffff, UINT64_MAX, 1ull << 40};
				uint64_t x = v[next() % 7];
				size_t k = n - at < 8 ? n - at : 8;
				memcpy(buf + at, &x, k);
				break;
			}
			default: { /* copy a run from elsewhere */
				size_t from = next() % n, k = next() % 64;
				if (from + k > n)
					k = n - from;
				if (at + k > n)
					k = n - at;
				memmove(buf + at, buf + from, k);
			}
			}
		}
		run_one(buf, n);
	}
	free(buf);
}

int main(int argc, char **argv)
{
	int rounds = getenv("FUZZ_ROUNDS") ? atoi(getenv("FUZZ_ROUNDS")) : 300;
	uint8_t **bufs;
	size_t *lens;
	size_t n = fuzz_seeds(&bufs, &lens);
	if (argc == 3 && !strcmp(argv[1], "--write-seeds")) {
		/* a starting corpus for libFuzzer (make fuzz) */
		for (size_t i = 0; i < n; i++) {
			char path[4096];
			snprintf(path, sizeof path, "%s/seed-%zu", argv[2], i);
			FILE *f = fopen(path, "wb");
			if (!f || fwrite(bufs[i], 1, lens[i], f) != lens[i])
				return 1;
			fclose(f);
		}
		return 0;
	}
	signal(SIGALRM, on_alarm);
	for (size_t i = 0; i < n; i++) {
		run_one(bufs[i], lens[i]);
		mutate_and_run(bufs[i], lens[i], rounds);
		free(bufs[i]);
	}
	free(bufs);
	free(lens);
	for (int i = 1; i < argc; i++) {
		FILE *f = fopen(argv[i], "rb");
		if (!f)
			continue;
		static uint8_t buf[1 << 20];
		size_t len = fread(buf, 1, sizeof buf, f);
		fclose(f);
		run_one(buf, len);
		mutate_and_run(buf, len, rounds);
	}
	struct rusage ru;
	long peak_mb = getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss / 1024 : 0;
	if (peak_mb > MAX_RSS_MB) {
		fprintf(stderr, "fuzz driver: peak resident size %ld MiB, over %d MiB\n", peak_mb,
		        MAX_RSS_MB);
		return 1;
	}
	printf("fuzz driver: %zu seeds, %d mutations each: no crash, peak %ld MiB\n",
	       n + (size_t)(argc - 1), rounds, peak_mb);
	return 0;
}
