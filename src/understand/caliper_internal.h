/* caliper_internal.h: what the Caliper reader (caliper_read.c) and the Caliper writer
 * (caliper_write.c) share; not part of liblevee's public interface. */
#ifndef LEVEE_CALIPER_INTERNAL_H
#define LEVEE_CALIPER_INTERNAL_H

/* The context types Canvas names (context_type), with the Caliper entity type a context of that
 * type is and the kind its URN names ("urn:instructure:canvas:<urn>:<id>"). Defined in
 * caliper_read.c. */
typedef struct lv__caliper_context {
    const char *canvas, *caliper, *urn;
} lv__caliper_context;

#define LV__CALIPER_CONTEXT_COUNT 4
extern const lv__caliper_context lv__caliper_contexts[LV__CALIPER_CONTEXT_COUNT];

#endif
