/*
 * synthtrace.c: builds the synthetic tracer image described in
 * synthtrace.h, placing live entries as the tracer does (shard by
 * hwt_shard_of, a free slot of the first or second of hwt_buckets).
 */
#include "synthtrace.h"

#include "tracer_format.h"

#include <stdlib.h>
#include <string.h>

#define OFF_SITES  0x3000
#define OFF_FRAMES 0x3400
#define OFF_TABLES 0x4000
#define OFF_CODE   0x18000
#define OFF_ARENAS 0x19000
#define OFF_SHADOW 0x19400
#define SHARD_CAP  HWT_MIN_CAPACITY

static void put_live(uint8_t *b, struct hwt_root *r, uint64_t address, uint32_t site, uint32_t req,
                     size_t *next_table)
{
	struct hwt_shard *s = &r->shards[hwt_shard_of(address)];
	if (!s->table) {
		s->table = SYNTH_BASE + *next_table;
		s->capacity = SHARD_CAP;
		*next_table += SHARD_CAP * sizeof(struct hwt_live_entry);
	}
	struct hwt_live_entry *tab = (void *)(b + (s->table - SYNTH_BASE));
	uint64_t bk[2], i = 0;
	int found = 0;
	hwt_buckets(address, s->capacity, &bk[0], &bk[1]);
	for (int k = 0; k < 2 && !found; k++) {
		for (unsigned j = 0; j < HWT_BUCKET_SLOTS && !found; j++) {
			i = bk[k] * HWT_BUCKET_SLOTS + j;
			found = !tab[i].key;
		}
	}
	if (!found)
		abort(); /* the image's tables are sized for its entries */
	tab[i].key = address;
	tab[i].site = site;
	tab[i].requested = req;
	s->count++;
}

static void put_str(uint8_t *b, size_t off, const char *s)
{
	/* PyASCIIObject of 3.11: length +0x10, state +0x20 (kind 1, compact,
	 * ascii, ready), data at +48 */
	uint64_t len = strlen(s);
	uint32_t state = 1u << 2 | 1u << 5 | 1u << 6 | 1u << 7;
	memcpy(b + off + 0x10, &len, 8);
	memcpy(b + off + 0x20, &state, 4);
	memcpy(b + off + 48, s, len + 1);
}

synth_image synth_trace(uint64_t sample_bytes)
{
	synth_image m = {calloc(1, SYNTH_SIZE), SYNTH_SIZE};
	uint8_t *b = m.b;
	struct hwt_root *r = (void *)b;
	memcpy(r->magic, HWT_MAGIC, HWT_MAGIC_LEN);
	r->version = HWT_FORMAT_VERSION;
	r->size = sizeof(*r);
	r->self = SYNTH_BASE;
	r->pid = 1234;
	r->mode = sample_bytes ? HWT_MODE_SAMPLED : HWT_MODE_ALL;
	r->sample_bytes = sample_bytes;
	r->native_frames = 8;
	r->python_frames = 32;
	r->python_layout = HWT_PY_311;
	r->python_version = 0x030b07f0;

	/* frames: site 1 [0, 2), site 2 [2, 3), site 3 [3, 8) */
	uint64_t code = SYNTH_BASE + OFF_CODE;
	uint64_t words[] = {0x401000, 0x402000, 0x403000, 0x404000, code, 4, code, 12};
	memcpy(b + OFF_FRAMES, words, sizeof(words));
	struct hwt_site *sites = (void *)(b + OFF_SITES);
	sites[1] = (struct hwt_site){.frames_at = 0, .n_native = 2};
	sites[2] = (struct hwt_site){.frames_at = 2, .n_native = 1};
	sites[3] = (struct hwt_site){.frames_at = 3, .n_native = 1, .n_python = 2};
	r->sites = SYNTH_BASE + OFF_SITES;
	r->sites_capacity = 64;
	r->sites_count = 3;
	r->frames = SYNTH_BASE + OFF_FRAMES;
	r->frames_capacity = 128;
	r->frames_used = 8;

	size_t next_table = OFF_TABLES;
	for (uint64_t i = 0; i < SYNTH_N1; i++)
		put_live(b, r, 0x5000000 + 1024 * i, 1, 100, &next_table);
	for (uint64_t i = 0; i < SYNTH_N2; i++)
		put_live(b, r, 0x6000000 + 32 * i, 2, 7, &next_table);
	/* the site-3 entry is in the shadow of a pymalloc arena of 4 KiB at
	 * 0x7000000, slot 0 of 256 */
	struct hwt_pyarena *arena = (void *)(b + OFF_ARENAS);
	*arena = (struct hwt_pyarena){
	    .base = SYNTH_ARENA, .size = SYNTH_ARENA_SIZE, .shadow = SYNTH_BASE + OFF_SHADOW};
	uint32_t *shadow = (void *)(b + OFF_SHADOW);
	shadow[0] = hwt_shadow_pack(3, 48);
	r->pyarenas = SYNTH_BASE + OFF_ARENAS;
	r->pyarenas_capacity = 16;
	r->pyarenas_count = 1;

	/* the code object (3.11 offsets: firstlineno 0x48, filename 0x70,
	 * name 0x78, linetable 0x88) and its strings and bytes */
	uint8_t *c = b + OFF_CODE;
	uint32_t first = 10;
	uint64_t fn = code + 0x200, name = code + 0x300, table = code + 0x400;
	memcpy(c + 0x48, &first, 4);
	memcpy(c + 0x70, &fn, 8);
	memcpy(c + 0x78, &name, 8);
	memcpy(c + 0x88, &table, 8);
	put_str(b, OFF_CODE + 0x200, "f.py");
	put_str(b, OFF_CODE + 0x300, "fn");
	static const uint8_t lt[] = {0xE9, 0x02, 0xDA, 0x01, 0x05, 0x80, 0x03,
	                             0xF0, 0x05, 0x00, 0x01, 0x02, 0xF8};
	uint64_t ltlen = sizeof(lt);
	memcpy(c + 0x400 + 0x10, &ltlen, 8);
	memcpy(c + 0x400 + 0x20, lt, sizeof(lt));
	return m;
}

uint64_t synth_addr(const synth_image *m, const void *p)
{
	return SYNTH_BASE + (uint64_t)((const uint8_t *)p - m->b);
}

int synth_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
	const synth_image *m = ctx;
	if (addr < SYNTH_BASE || addr - SYNTH_BASE > m->len || len > m->len - (addr - SYNTH_BASE))
		return -1;
	memcpy(buf, m->b + (addr - SYNTH_BASE), len);
	return 0;
}
