/*
 * unwind.c: the tracer's own x86-64 unwinder, from .eh_frame, with a
 * per-thread cache of each code address's frame rule.
 *
 * libunwind resolves every code address it has not seen in its small
 * caches through dl_iterate_phdr, between two sigprocmask system calls,
 * and parses the FDE again: about 3 us a time.  A Python start-up makes
 * some 12000 such lookups (most of its allocations come from stacks seen
 * once), 40 ms of CPU for an interpreter that starts in 15.  Here a code
 * address's rule is found once per thread and kept in a direct-mapped
 * cache (8 bytes: how to get the CFA, where rbp was saved); a frame then
 * costs a hash, a compare and one or two loads from the stack.
 *
 * A rule is what GCC and clang emit for x86-64 code: the CFA is rsp or
 * rbp plus a constant, the return address is at CFA - 8, rbp is either
 * unchanged or saved at CFA + a constant.  Anything else (a CFA computed by
 * an expression, as PLT stubs and stack realignment (DRAP) have it; a
 * signal frame; a 64-bit-length FDE; an .eh_frame_hdr without its binary
 * search table) makes hwt_unwind fail and the caller uses libunwind for
 * that stack.  An outermost frame (return address undefined, as _start
 * and clone's child have it) ends the stack.
 *
 * The formats, from the DWARF 5 standard (section 6.4, call frame
 * information), the LSB's description of .eh_frame and .eh_frame_hdr
 * (Linux Standard Base Core, "Exception Frames"), and the x86-64 psABI's
 * DWARF register numbers (rbp 6, rsp 7, return address 16).
 *
 * Safety: every stack read is inside the thread's stack, between the
 * hook's CFA and the stack's top, and each frame's CFA must lie above the
 * previous one, so a wrong rule (code unloaded and replaced at the same
 * address) ends the walk instead of faulting.  .eh_frame is read only
 * for an object dl_iterate_phdr reports as loaded, at that moment.
 */
#include "tracer.h"

#include <link.h>
#include <string.h>

#define DW_EH_PE_omit    0xff
#define DW_EH_PE_absptr  0x00
#define DW_EH_PE_uleb128 0x01
#define DW_EH_PE_udata2  0x02
#define DW_EH_PE_udata4  0x03
#define DW_EH_PE_udata8  0x04
#define DW_EH_PE_sleb128 0x09
#define DW_EH_PE_sdata2  0x0a
#define DW_EH_PE_sdata4  0x0b
#define DW_EH_PE_sdata8  0x0c
#define DW_EH_PE_pcrel   0x10
#define DW_EH_PE_datarel 0x30

#define REG_RBP 6
#define REG_RSP 7
#define REG_RA  16

/* A rule packed in 64 bits (0: unknown, never cached as such):
 * bits 0-1 kind, bit 2 rbp saved, bits 8-23 rbp's offset from the CFA
 * (signed), bits 32-63 the CFA's offset from its register (signed). */
enum { RULE_NONE = 0, RULE_RSP = 1, RULE_RBP = 2, RULE_END = 3 };
#define RULE_RBP_SAVED 4u

static inline uint64_t rule_make(unsigned kind, int saved, int32_t rbp_off, int32_t cfa_off)
{
	return (uint64_t)kind | (saved ? RULE_RBP_SAVED : 0) |
	       ((uint64_t)(uint16_t)(int16_t)rbp_off << 8) | ((uint64_t)(uint32_t)cfa_off << 32);
}

/* ---- reading .eh_frame ---- */

struct rd {
	const uint8_t *p, *end;
	int bad;
};

static uint64_t uleb(struct rd *r)
{
	uint64_t v = 0;
	for (unsigned shift = 0; r->p < r->end && shift < 64; shift += 7) {
		uint8_t b = *r->p++;
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return v;
	}
	r->bad = 1;
	return 0;
}

static int64_t sleb(struct rd *r)
{
	uint64_t v = 0;
	unsigned shift = 0;
	while (r->p < r->end && shift < 64) {
		uint8_t b = *r->p++;
		v |= (uint64_t)(b & 0x7f) << shift;
		shift += 7;
		if (!(b & 0x80)) {
			if (shift < 64 && (b & 0x40))
				v |= ~0ull << shift;
			return (int64_t)v;
		}
	}
	r->bad = 1;
	return 0;
}

static uint64_t fixed(struct rd *r, unsigned bytes)
{
	if ((size_t)(r->end - r->p) < bytes) {
		r->bad = 1;
		return 0;
	}
	uint64_t v = 0;
	memcpy(&v, r->p, bytes); /* little-endian */
	r->p += bytes;
	return v;
}

static uint8_t byte(struct rd *r)
{
	return (uint8_t)fixed(r, 1);
}

/* A pointer in encoding enc (no indirection); datarel is relative to base. */
static uint64_t encoded(struct rd *r, uint8_t enc, uint64_t base)
{
	uint64_t at = (uint64_t)(uintptr_t)r->p, v;
	switch (enc & 0x0f) {
	case DW_EH_PE_absptr:
	case DW_EH_PE_udata8:
	case DW_EH_PE_sdata8:
		v = fixed(r, 8);
		break;
	case DW_EH_PE_udata2:
		v = fixed(r, 2);
		break;
	case DW_EH_PE_sdata2:
		v = (uint64_t)(int64_t)(int16_t)fixed(r, 2);
		break;
	case DW_EH_PE_udata4:
		v = fixed(r, 4);
		break;
	case DW_EH_PE_sdata4:
		v = (uint64_t)(int64_t)(int32_t)fixed(r, 4);
		break;
	case DW_EH_PE_uleb128:
		v = uleb(r);
		break;
	case DW_EH_PE_sleb128:
		v = (uint64_t)sleb(r);
		break;
	default:
		r->bad = 1;
		return 0;
	}
	switch (enc & 0x70) {
	case 0:
		return v;
	case DW_EH_PE_pcrel:
		return v + at;
	case DW_EH_PE_datarel:
		return v + base;
	default:
		r->bad = 1;
		return 0;
	}
}

/* The register rules the walk needs, as CFA instructions leave them. */
struct cfa_state {
	int cfa_reg; /* REG_RSP or REG_RBP; other: unsupported */
	int64_t cfa_off;
	int rbp_saved; /* 1: at CFA + rbp_off; 0: unchanged */
	int64_t rbp_off;
	int ra_ok;        /* return address at CFA - 8 */
	int ra_undefined; /* the outermost frame */
	int unsupported;  /* an expression or a register rule we do not follow */
};

struct cie {
	int64_t data_align;
	uint64_t code_align;
	uint8_t fde_enc;
	int signal;
	int has_z;
	const uint8_t *insns, *insns_end;
};

/* Skip a block of n bytes (an expression), or fail. */
static void skip(struct rd *r, uint64_t n)
{
	if (n > (uint64_t)(r->end - r->p))
		r->bad = 1;
	else
		r->p += n;
}

/* A rule this unwinder does not follow, for register reg: the walk needs
 * only rbp's and the return address's. */
static void opaque_rule(struct cfa_state *s, uint64_t reg)
{
	if (reg == REG_RBP || reg == REG_RA)
		s->unsupported = 1;
}

/* Run CFA instructions up to (not past) code address pc; loc starts at
 * the FDE's first address (0 for a CIE's initial instructions). */
static int run_cfa(const uint8_t *p, const uint8_t *end, const struct cie *c, uint64_t loc,
                   uint64_t pc, struct cfa_state *s, const struct cfa_state *initial)
{
	struct cfa_state stack[8];
	unsigned depth = 0;
	struct rd r = {p, end, 0};
	while (r.p < r.end && !r.bad) {
		uint8_t op = byte(&r), low = op & 0x3f;
		uint64_t reg, adv = 0;
		int64_t off;
		switch (op >> 6) {
		case 1: /* advance_loc */
			adv = low * c->code_align;
			goto advance;
		case 2: /* offset */
			off = (int64_t)uleb(&r) * c->data_align;
			reg = low;
			goto set_offset;
		case 3: /* restore */
			reg = low;
			goto restore;
		}
		switch (op) {
		case 0x00: /* nop */
			continue;
		case 0x01: /* set_loc */
			loc = encoded(&r, c->fde_enc, 0);
			if (loc > pc)
				return !r.bad;
			continue;
		case 0x02:
			adv = byte(&r) * c->code_align;
			goto advance;
		case 0x03:
			adv = fixed(&r, 2) * c->code_align;
			goto advance;
		case 0x04:
			adv = fixed(&r, 4) * c->code_align;
			goto advance;
		case 0x05: /* offset_extended */
			reg = uleb(&r);
			off = (int64_t)uleb(&r) * c->data_align;
			goto set_offset;
		case 0x06: /* restore_extended */
			reg = uleb(&r);
			goto restore;
		case 0x07: /* undefined */
			reg = uleb(&r);
			if (reg == REG_RA)
				s->ra_undefined = 1;
			else if (reg == REG_RBP)
				s->unsupported = 1;
			continue;
		case 0x08: /* same_value */
			reg = uleb(&r);
			if (reg == REG_RBP)
				s->rbp_saved = 0;
			else if (reg == REG_RA)
				s->unsupported = 1;
			continue;
		case 0x09: /* register */
		case 0x14: /* val_offset */
		case 0x15: /* val_offset_sf (a LEB128 is skipped alike, signed or not) */
			reg = uleb(&r);
			(void)uleb(&r);
			opaque_rule(s, reg);
			continue;
		case 0x0a: /* remember_state */
			if (depth == 8)
				return 0;
			stack[depth++] = *s;
			continue;
		case 0x0b: /* restore_state */
			if (!depth)
				return 0;
			*s = stack[--depth];
			continue;
		case 0x0c: /* def_cfa */
			s->cfa_reg = (int)uleb(&r);
			s->cfa_off = (int64_t)uleb(&r);
			continue;
		case 0x0d: /* def_cfa_register */
			s->cfa_reg = (int)uleb(&r);
			continue;
		case 0x0e: /* def_cfa_offset */
			s->cfa_off = (int64_t)uleb(&r);
			continue;
		case 0x0f: /* def_cfa_expression */
			s->unsupported = 1;
			skip(&r, uleb(&r));
			continue;
		case 0x10: /* expression */
		case 0x16: /* val_expression */
			reg = uleb(&r);
			opaque_rule(s, reg);
			skip(&r, uleb(&r));
			continue;
		case 0x11: /* offset_extended_sf */
			reg = uleb(&r);
			off = sleb(&r) * c->data_align;
			goto set_offset;
		case 0x12: /* def_cfa_sf */
			s->cfa_reg = (int)uleb(&r);
			s->cfa_off = sleb(&r) * c->data_align;
			continue;
		case 0x13: /* def_cfa_offset_sf */
			s->cfa_off = sleb(&r) * c->data_align;
			continue;
		case 0x2e: /* GNU_args_size */
			(void)uleb(&r);
			continue;
		case 0x2f: /* GNU_negative_offset_extended */
			reg = uleb(&r);
			off = -(int64_t)uleb(&r) * c->data_align;
			goto set_offset;
		default:
			return 0;
		}
	advance:
		if (loc + adv > pc)
			return !r.bad;
		loc += adv;
		continue;
	set_offset:
		if (reg == REG_RBP) {
			s->rbp_saved = 1;
			s->rbp_off = off;
		} else if (reg == REG_RA) {
			s->ra_ok = off == -8;
			if (!s->ra_ok)
				s->unsupported = 1;
		}
		continue;
	restore:
		if (!initial)
			return 0; /* restore inside a CIE */
		if (reg == REG_RBP) {
			s->rbp_saved = initial->rbp_saved;
			s->rbp_off = initial->rbp_off;
		} else if (reg == REG_RA) {
			s->ra_ok = initial->ra_ok;
			s->ra_undefined = initial->ra_undefined;
		}
		continue;
	}
	return !r.bad;
}

static int parse_cie(const uint8_t *cie, const uint8_t *limit, struct cie *c)
{
	struct rd r = {cie, limit, 0};
	uint64_t len = fixed(&r, 4);
	if (r.bad || len == 0 || len == 0xffffffffu || len > (uint64_t)(limit - r.p))
		return 0;
	r.end = r.p + len;
	if (fixed(&r, 4) != 0) /* CIE id */
		return 0;
	uint8_t version = byte(&r);
	if (version != 1 && version != 3)
		return 0;
	const char *aug = (const char *)r.p;
	size_t alen = strnlen(aug, (size_t)(r.end - r.p));
	if (alen == (size_t)(r.end - r.p))
		return 0;
	r.p += alen + 1;
	memset(c, 0, sizeof(*c));
	c->code_align = uleb(&r);
	c->data_align = sleb(&r);
	uint64_t ra = version == 1 ? byte(&r) : uleb(&r);
	if (ra != REG_RA)
		return 0;
	c->fde_enc = DW_EH_PE_absptr;
	const uint8_t *aug_end = NULL;
	for (size_t i = 0; i < alen && !r.bad; i++) {
		switch (aug[i]) {
		case 'z':
			if (i != 0)
				return 0;
			c->has_z = 1;
			{
				uint64_t n = uleb(&r);
				if (n > (uint64_t)(r.end - r.p))
					return 0;
				aug_end = r.p + n;
			}
			break;
		case 'R':
			c->fde_enc = byte(&r);
			break;
		case 'L':
			(void)byte(&r);
			break;
		case 'P': {
			uint8_t enc = byte(&r);
			if (enc & 0x80)
				enc &= 0x7f; /* indirect: the pointer itself is not needed */
			(void)encoded(&r, enc, 0);
			break;
		}
		case 'S':
			c->signal = 1;
			break;
		default:
			if (!aug_end)
				return 0; /* unknown without 'z': cannot skip */
			r.p = aug_end;
			i = alen;
			break;
		}
	}
	if (aug_end)
		r.p = aug_end;
	if (r.bad || c->code_align == 0)
		return 0;
	c->insns = r.p;
	c->insns_end = r.end;
	return 1;
}

/* The rule at code address pc, given its object's .eh_frame_hdr. */
static uint64_t rule_from_hdr(const uint8_t *hdr, const uint8_t *hdr_end, uint64_t pc)
{
	struct rd r = {hdr, hdr_end, 0};
	uint8_t version = byte(&r), ptr_enc = byte(&r), count_enc = byte(&r), table_enc = byte(&r);
	if (r.bad || version != 1 || table_enc != (DW_EH_PE_datarel | DW_EH_PE_sdata4) ||
	    count_enc == DW_EH_PE_omit)
		return RULE_NONE;
	uint64_t base = (uint64_t)(uintptr_t)hdr;
	(void)encoded(&r, ptr_enc, base);
	uint64_t count = encoded(&r, count_enc, base);
	if (r.bad || !count || count > (uint64_t)(r.end - r.p) / 8)
		return RULE_NONE; /* the table must lie inside the segment */
	const int32_t *table = (const int32_t *)(const void *)r.p;
	/* the last entry whose start is <= pc */
	uint64_t lo = 0, hi = count;
	while (hi - lo > 1) {
		uint64_t mid = lo + (hi - lo) / 2;
		if (base + (uint64_t)(int64_t)table[2 * mid] <= pc)
			lo = mid;
		else
			hi = mid;
	}
	if (base + (uint64_t)(int64_t)table[2 * lo] > pc)
		return RULE_NONE;
	const uint8_t *fde =
	    (const uint8_t *)(uintptr_t)(base + (uint64_t)(int64_t)table[2 * lo + 1]);
	/* an FDE is at most a few KiB; its length bounds the reads */
	struct rd f = {fde, fde + 8, 0};
	uint64_t len = fixed(&f, 4);
	if (f.bad || len == 0 || len == 0xffffffffu || len > (1u << 20))
		return RULE_NONE;
	f.end = fde + 4 + len;
	const uint8_t *cie_ptr_at = f.p;
	uint64_t cie_off = fixed(&f, 4);
	if (!cie_off || cie_off > (uint64_t)(uintptr_t)cie_ptr_at)
		return RULE_NONE;
	const uint8_t *cie = cie_ptr_at - cie_off;
	struct cie c;
	/* a CIE precedes its FDEs: its length field bounds it */
	if (!parse_cie(cie, cie_ptr_at, &c) || c.signal)
		return RULE_NONE;
	uint64_t start = encoded(&f, c.fde_enc, 0);
	uint64_t range = encoded(&f, c.fde_enc & 0x0f, 0);
	if (f.bad || pc < start || pc - start >= range)
		return RULE_NONE;
	if (c.has_z) {
		uint64_t n = uleb(&f);
		if (f.bad || n > (uint64_t)(f.end - f.p))
			return RULE_NONE;
		f.p += n;
	}
	struct cfa_state s = {.cfa_reg = -1}, initial;
	if (!run_cfa(c.insns, c.insns_end, &c, 0, UINT64_MAX, &s, NULL))
		return RULE_NONE;
	initial = s;
	if (!run_cfa(f.p, f.end, &c, start, pc, &s, &initial) || s.unsupported)
		return RULE_NONE;
	if (s.ra_undefined)
		return rule_make(RULE_END, 0, 0, 0);
	if (!s.ra_ok || (s.cfa_reg != REG_RSP && s.cfa_reg != REG_RBP) || s.cfa_off < 8 ||
	    s.cfa_off > INT32_MAX || (s.rbp_saved && (s.rbp_off < INT16_MIN || s.rbp_off >= 0)))
		return RULE_NONE;
	return rule_make(s.cfa_reg == REG_RSP ? RULE_RSP : RULE_RBP, s.rbp_saved,
	                 (int32_t)s.rbp_off, (int32_t)s.cfa_off);
}

struct find {
	uint64_t pc, rule;
};

static int find_object(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct find *f = arg;
	(void)size;
	const ElfW(Phdr) *eh = NULL;
	int inside = 0;
	for (unsigned i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type == PT_LOAD) {
			uint64_t lo = info->dlpi_addr + ph->p_vaddr;
			if (f->pc >= lo && f->pc - lo < ph->p_memsz)
				inside = 1;
		} else if (ph->p_type == PT_GNU_EH_FRAME) {
			eh = ph;
		}
	}
	if (!inside)
		return 0;
	if (eh) {
		const uint8_t *hdr = (const uint8_t *)(uintptr_t)(info->dlpi_addr + eh->p_vaddr);
		f->rule = rule_from_hdr(hdr, hdr + eh->p_memsz, f->pc);
	}
	return 1;
}

/* ---- the walk ---- */

static inline unsigned cache_index(uint64_t pc)
{
	return (unsigned)((pc * 0x9e3779b97f4a7c15ull) >> 50) & (HWT_UW_CACHE - 1);
}

static uint64_t rule_of(struct hwt_uw_cache *c, uint64_t pc)
{
	struct hwt_uw_entry *e = &c->e[cache_index(pc)];
	if (likely(e->pc == pc))
		return e->rule;
	struct find f = {pc, RULE_NONE};
	dl_iterate_phdr(find_object, &f);
	e->pc = pc; /* an unknown rule too: the next walk falls back at once */
	e->rule = f.rule;
	return f.rule;
}

int hwt_unwind(struct hwt_uw_cache *c, uint64_t caller, uint64_t cfa0, uint64_t *ips,
               uint64_t *slots, uint32_t want, uint32_t *n)
{
	uint64_t lo = c->stack_lo, hi = c->stack_hi;
	*n = 1;
	if (!hi || cfa0 < lo + 16 || cfa0 >= hi)
		return 0; /* not on the stack we know (a coroutine's, say) */
	uint64_t ip = caller, sp = cfa0;
	uint64_t rbp = *(const uint64_t *)(uintptr_t)(cfa0 - 16); /* the hook's saved rbp */
	uint32_t k = 1;
	while (k < want) {
		/* a return address: the call is the instruction before it */
		uint64_t rule = rule_of(c, ip - 1);
		unsigned kind = rule & 3;
		if (kind == RULE_END)
			break;
		if (kind == RULE_NONE)
			return 0;
		uint64_t cfa =
		    (kind == RULE_RSP ? sp : rbp) + (uint64_t)(int64_t)(int32_t)(rule >> 32);
		if (cfa <= sp || cfa > hi)
			return 0;
		uint64_t ra = *(const uint64_t *)(uintptr_t)(cfa - 8);
		if (rule & RULE_RBP_SAVED) {
			uint64_t at = cfa + (uint64_t)(int64_t)(int16_t)(uint16_t)(rule >> 8);
			if (at < sp || at + 8 > hi)
				return 0;
			rbp = *(const uint64_t *)(uintptr_t)at;
		}
		if (!ra)
			break;
		ips[k] = ra;
		slots[k] = cfa - 8;
		k++;
		ip = ra;
		sp = cfa;
	}
	*n = k;
	return 1;
}
