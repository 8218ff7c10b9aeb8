/* levee/caliper.h (stage: understand): conversion between Canvas's two formats. Canvas documents a Caliper 1.1 form for
 * discussion_entry_created (a Posted MessageEvent) and discussion_topic_created (a Created
 * ThreadEvent); the catalog says where each field goes, and this module follows it both ways. */
#ifndef LEVEE_CALIPER_H
#define LEVEE_CALIPER_H

#include "levee/event.h"

/* "urn:uuid:xxxxxxxx-xxxx-5xxx-yxxx-xxxxxxxxxxxx" plus NUL */
#define LV_CALIPER_ID_MAX 46

/* Writes the Caliper 1.1 envelope Canvas would send for the event, field for field as Canvas's
 * Forum page shows it (and, for a reply, replyTo), valid Caliper 1.1: an entity that cannot have
 * both an id and a type is left out, and no Caliper property is null. The Caliper event id is a
 * name-based UUID (v5) of the event's canonical record, so the same event always gets the same id.
 * Fails with LV_EUNSUPPORTED for events with no documented Caliper form. */
lv_status lv_caliper_write_envelope(const lv_event *ev, lv_arena *arena, lv_jw *w, lv_error *err);

/* The id lv_caliper_write_envelope gives the event. */
lv_status lv_caliper_event_id(const lv_event *ev, char out[LV_CALIPER_ID_MAX], lv_error *err);

/* Writes the canvas form ({"metadata": ..., "body": ...}) of a modeled event decoded from either
 * format, with values as the source gave them. Fails with LV_EUNSUPPORTED for events outside the
 * model that came as Caliper (they have no canvas form). */
lv_status lv_canvas_write_event(const lv_event *ev, lv_jw *w, lv_error *err);

#endif
