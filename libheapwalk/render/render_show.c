/*
 * render_show.c: `show ADDRESS`: what holds an address: allocator, chunk or
 * block bounds, state, size, type, site and a hex dump of its first bytes
 * (only when the target's memory is at hand: not from a snapshot file).
 *
 * glibc bounds (malloc.c, "chunk representations"): the chunk starts 16
 * bytes (2 * SIZE_SZ) before the user pointer; an in-use chunk's usable
 * size is its size minus 8 (the next chunk's prev_size is usable), an
 * mmapped chunk's its size minus 16.
 */
#include "render_internal.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define SHOW_DUMP_BYTES 64
enum { GLIBC_HEADER = 16, SIZE_SZ = 8 };

static void bounds(unsigned al, uint64_t addr, uint64_t size, uint64_t *start, uint64_t *end)
{
	if (al == HW_ALLOCATOR_GLIBC) {
		*start = addr - GLIBC_HEADER;
		*end = addr + size + SIZE_SZ - GLIBC_HEADER;
	} else if (al == HW_ALLOCATOR_GLIBC_MMAP) {
		*start = addr - GLIBC_HEADER;
		*end = addr + size;
	} else {
		*start = addr;
		*end = addr + size;
	}
}

int hw_render_show(FILE *f, const hw_snapshot *s, hw_target *t, uint64_t address,
                   const hw_view_options *o)
{
	hw_view_options def;
	if (!o) {
		hw_view_options_init(&def);
		o = &def;
	}
	ssize_t i = hw_snapshot_find(s, address);
	/* an address in a glibc chunk's header belongs to that chunk too */
	if (i < 0) {
		ssize_t j = hw_snapshot_find(s, address + GLIBC_HEADER);
		if (j >= 0 && s->addr[j] > address &&
		    HW_F_ALLOCATOR(s->flags[j]) != HW_ALLOCATOR_PYMALLOC)
			i = j;
	}
	uint8_t dump[SHOW_DUMP_BYTES];
	size_t dump_n = 0;
	uint64_t dump_at = 0;
	hw_alloc a = {0};
	uint32_t type = 0, site = 0;
	uint64_t start = 0, end = 0;
	if (i >= 0) {
		hw_snapshot_get_alloc(s, (size_t)i, &a, &type, &site);
		bounds(a.allocator, a.address, a.size, &start, &end);
		dump_at = a.address;
		dump_n = a.size < SHOW_DUMP_BYTES ? (size_t)a.size : SHOW_DUMP_BYTES;
		if (!t || hw_read(t, dump_at, dump, dump_n) != HW_OK)
			dump_n = 0;
	}
	uint32_t *ids = malloc(HW_SITE_MAX_FRAMES * sizeof *ids);
	if (!ids)
		return hw_error_set(HW_ENOMEM, "out of memory");
	size_t nf = i >= 0 ? hw_view_frames(s, o, site, ids, HW_SITE_MAX_FRAMES) : 0;
	const char *tname = hw_snapshot_type_name(s, type);
	const char *bin = hw_bin_name(a.bin);
	const char *kind = a.allocator == HW_ALLOCATOR_PYMALLOC ? "block" : "chunk";

	if (o->format == HW_FORMAT_JSON) {
		fprintf(f, "{\"format\": \"heapwalk.show.v1\", \"target\": ");
		hw_json_target(f, s);
		fprintf(f, ", \"query\": \"0x%" PRIx64 "\", \"found\": %s", address,
		        i >= 0 ? "true" : "false");
		if (i >= 0) {
			fprintf(f,
			        ", \"address\": \"0x%" PRIx64 "\", \"offset\": %" PRId64
			        ", \"size\": %" PRIu64
			        ", \"state\": \"%s\", \"allocator\": \"%s\", "
			        "\"arena\": ",
			        a.address, (int64_t)(address - a.address), a.size,
			        hw_state_name(a.state), hw_allocator_name(a.allocator));
			hw_json_addr(f, a.arena, 1);
			fprintf(f,
			        ", \"%s\": {\"start\": \"0x%" PRIx64 "\", \"end\": \"0x%" PRIx64
			        "\"}, \"bin\": ",
			        kind, start, end);
			hw_json_str(f, bin);
			fputs(", \"type\": ", f);
			hw_json_str(f, tname);
			fputs(", \"frames\": [", f);
			for (size_t k = 0; k < nf; k++) {
				hw_frame fr;
				hw_snapshot_frame(s, ids[k], &fr);
				if (k)
					fputs(", ", f);
				hw_json_frame(f, &fr);
			}
			fputs("], \"bytes\": ", f);
			if (dump_n) {
				fputc('"', f);
				for (size_t k = 0; k < dump_n; k++)
					fprintf(f, "%02x", dump[k]);
				fputc('"', f);
			} else {
				fputs("null", f);
			}
		}
		fputs("}\n", f);
	} else if (o->format == HW_FORMAT_CSV) {
		fputs("field,value\n", f);
		fprintf(f, "query,0x%" PRIx64 "\nfound,%s\n", address, i >= 0 ? "true" : "false");
		if (i >= 0) {
			fprintf(f,
			        "address,0x%" PRIx64 "\nsize,%" PRIu64 "\nstate,%s\nallocator,%s\n",
			        a.address, a.size, hw_state_name(a.state),
			        hw_allocator_name(a.allocator));
			fprintf(f, "start,0x%" PRIx64 "\nend,0x%" PRIx64 "\nbin,%s\ntype,", start,
			        end, bin ? bin : "");
			hw_csv_str(f, tname);
			fputc('\n', f);
		}
	} else {
		if (i < 0) {
			fprintf(f, "0x%" PRIx64 ": not inside any allocation the walk found\n",
			        address);
			ssize_t lo = -1;
			/* the nearest allocations on each side, as a hint */
			size_t l = 0, r = s->n;
			while (l < r) {
				size_t m = l + (r - l) / 2;
				if (s->addr[m] <= address)
					l = m + 1;
				else
					r = m;
			}
			lo = (ssize_t)l - 1;
			if (lo >= 0)
				fprintf(f, "  below: 0x%" PRIx64 " (%" PRIu64 " bytes, %s)\n",
				        s->addr[lo], hw_s_size(s, lo),
				        hw_state_name(HW_F_STATE(s->flags[lo])));
			if (l < s->n)
				fprintf(f, "  above: 0x%" PRIx64 " (%" PRIu64 " bytes, %s)\n",
				        s->addr[l], hw_s_size(s, l),
				        hw_state_name(HW_F_STATE(s->flags[l])));
		} else {
			char lb[1024];
			fprintf(f, "0x%" PRIx64 " is in the %s allocation at 0x%" PRIx64, address,
			        hw_state_name(a.state), a.address);
			if (address != a.address)
				fprintf(f, " (%+" PRId64 ")", (int64_t)(address - a.address));
			fputc('\n', f);
			fprintf(f, "  allocator  %s", hw_allocator_name(a.allocator));
			if (a.arena)
				fprintf(f, " (arena 0x%" PRIx64 ")", a.arena);
			fputc('\n', f);
			fprintf(f, "  %-10s 0x%" PRIx64 " .. 0x%" PRIx64 " (%" PRIu64 " bytes)\n",
			        kind, start, end, end - start);
			fprintf(f, "  size       %" PRIu64 " usable bytes\n", a.size);
			fprintf(f, "  state      %s%s%s\n", hw_state_name(a.state), bin ? ", " : "",
			        bin ? bin : "");
			fprintf(f, "  type       %s\n", tname ? tname : "?");
			if (!nf)
				fprintf(f, "  site       ?\n");
			for (size_t k = 0; k < nf; k++) {
				hw_frame fr;
				hw_snapshot_frame(s, ids[k], &fr);
				fprintf(f, "  %-10s %s  %s\n", k ? "" : "site",
				        fr.function ? fr.function : "?",
				        hw_frame_label(s, ids[k], lb, sizeof lb));
			}
			if (dump_n) {
				for (size_t k = 0; k < dump_n; k += 16) {
					fprintf(f, "  %-10s 0x%" PRIx64 "  ", k ? "" : "bytes",
					        dump_at + k);
					for (size_t j = k; j < k + 16; j++) {
						if (j < dump_n)
							fprintf(f, "%02x ", dump[j]);
						else
							fputs("   ", f);
					}
					fputc(' ', f);
					for (size_t j = k; j < k + 16 && j < dump_n; j++)
						fputc(dump[j] >= 0x20 && dump[j] < 0x7f ? dump[j]
						                                        : '.',
						      f);
					fputc('\n', f);
				}
			} else {
				fprintf(f, "  bytes      %s\n",
				        t ? "(not readable in the target)"
				          : "(a snapshot file holds no memory contents)");
			}
		}
	}
	free(ids);
	return HW_OK;
}
