/*
 * render_internal.h: helpers the renderers share: JSON and CSV quoting,
 * human sizes, the target header.  Every function writes to a FILE and
 * never fails on odd input (strings from a target may hold any byte).
 */
#ifndef HW_RENDER_INTERNAL_H
#define HW_RENDER_INTERNAL_H

#include "../snapshot/snapshot_internal.h"

#include <stdio.h>

/* "0x1234" as a JSON string, or null when addr is 0 and null0. */
void hw_json_addr(FILE *f, uint64_t addr, int null0);
/* {"count": N, "bytes": N} */
void hw_json_count(FILE *f, uint64_t count, uint64_t bytes);
/* (hw_json_str and hw_csv_str: heapwalk.h) */
/* "1.5 MiB", "512 B"; returns buf. */
const char *hw_human(uint64_t bytes, char *buf, size_t cap);
/* "+1.5 MiB", "-512 B", "0 B" */
const char *hw_human_signed(int64_t bytes, char *buf, size_t cap);
/* "core ./core (pid 12, /usr/bin/app)" */
void hw_text_target(FILE *f, const hw_snapshot *s);
/* "target": {...} (without the leading key) */
void hw_json_target(FILE *f, const hw_snapshot *s);
/* A frame object per CONTRACT.md section 3. */
void hw_json_frame(FILE *f, const hw_frame *fr);
/* "filters": [...] and the text line "filters: ..." */
void hw_json_filters(FILE *f, const hw_view_options *o);
void hw_text_filters(FILE *f, const hw_view_options *o);
const char *hw_state_name(unsigned st);
const char *hw_allocator_name(unsigned a);
const char *hw_bin_name(unsigned b); /* NULL for none */
/* The line every site view prints once when sites were not recorded. */
extern const char hw_no_sites_note[];

#endif
