/* emit_arena: the memory of a record's jansson tree, taken from one reused block while the record
 * is built (emit_arena_begin .. emit_arena_end) and given back whole when the last of it is
 * freed, so that building a record costs no malloc and free per value. With the writer thread
 * (emit_writer.c) each record of its queue has a block of its own, freed there. Part of the
 * record builder. */
#include <jansson.h>
#include <stdalign.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "emit_int.h"

#if defined(__SANITIZE_ADDRESS__)
#define ARENA_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ARENA_ASAN 1
#endif
#endif
#ifdef ARENA_ASAN
#include <sanitizer/asan_interface.h>
#define ARENA_POISON(p, n)   ASAN_POISON_MEMORY_REGION(p, n)
#define ARENA_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define ARENA_POISON(p, n)   ((void)(p), (void)(n))
#define ARENA_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

enum {
	ARENA_SIZE = 512 * 1024, /* far above a 16 KiB record's tree; beyond it, malloc */
	ARENA_ALIGN = alignof(max_align_t),
};

/* One record's block. Only one thread at a time uses a block: the analysis thread while it
 * builds the record, then (handed over through the writer's queue, under its lock) the thread
 * that writes and frees it; a session record's job is built there by the writer itself. */
struct arena_block {
	/* a cache line each: two threads use neighbours */
	alignas(64) unsigned char *base; /* ARENA_SIZE bytes */
	size_t used;                     /* bytes handed out since the block was last empty */
	size_t live;                     /* allocations handed out and not yet freed */
};

/* jansson's allocation hooks take no context, so the arena is the one state of its kind:
 * EMIT_QUEUE_DEPTH blocks in one mapping (workers are processes). */
static struct {
	unsigned char *region; /* EMIT_QUEUE_DEPTH * ARENA_SIZE bytes, or NULL */
	struct arena_block block[EMIT_QUEUE_DEPTH];
	bool installed;
} arena;

/* The block the calling thread builds a record in; NULL: allocations go to malloc (the writer
 * thread's own, such as json_dumpb's, and everything outside a record). */
static _Thread_local struct arena_block *building;

/* The block p lies in, or NULL for a block of malloc's. */
static struct arena_block *block_of(const void *p)
{
	uintptr_t a = (uintptr_t)p, b = (uintptr_t)arena.region;
	if (!arena.region || a < b || a >= b + (uintptr_t)EMIT_QUEUE_DEPTH * ARENA_SIZE)
		return NULL;
	return &arena.block[(a - b) / ARENA_SIZE];
}

static void *arena_malloc(size_t n)
{
	struct arena_block *k = building;
	size_t need = (n + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN;
	if (!k || need > ARENA_SIZE - k->used)
		return malloc(n);
	void *p = k->base + k->used;
	k->used += need;
	k->live++;
	ARENA_UNPOISON(p, n);
	return p;
}

/* Any block, the arena's or malloc's: a block is empty again when its last allocation goes. */
static void arena_free(void *p)
{
	struct arena_block *k = block_of(p);
	if (!k) {
		free(p);
		return;
	}
	if (--k->live == 0) {
		ARENA_POISON(k->base, k->used);
		k->used = 0;
	}
}

/* Before any jansson value exists; blocks of malloc's are freed by free(). */
static void arena_install(void)
{
	arena.installed = true;
	arena.region = malloc((size_t)EMIT_QUEUE_DEPTH * ARENA_SIZE);
	if (arena.region) {
		ARENA_POISON(arena.region, (size_t)EMIT_QUEUE_DEPTH * ARENA_SIZE);
		for (unsigned i = 0; i < EMIT_QUEUE_DEPTH; i++)
			arena.block[i].base = arena.region + (size_t)i * ARENA_SIZE;
	}
	json_set_alloc_funcs(arena_malloc, arena_free);
}

void emit_arena_begin(void)
{
	if (!arena.installed)
		arena_install();
	if (!building && arena.region) /* the writer's queue says which block is free */
		building = &arena.block[emit_writer_claim() % EMIT_QUEUE_DEPTH];
}

void emit_arena_end(void)
{
	building = NULL;
}

void emit_arena_use(unsigned block)
{
	if (!arena.installed)
		arena_install();
	building = arena.region ? &arena.block[block % EMIT_QUEUE_DEPTH] : NULL;
}
