"""events.py: canvas-format events for tests, built the way Canvas sends them: metadata ids global,
body ids local to the shard of root account 21070000000000001 (shard 2107)."""
import json

SHARD = 2107
ROOT = "21070000000000001"


def glob(local):
    return str(SHARD * 10 ** 13 + int(local))


def iso(ms):
    """UTC milliseconds as Canvas writes event_time."""
    from datetime import datetime, timezone
    dt = datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (ms % 1000)


def iso_seconds(ms, offset_minutes=0):
    """A body timestamp: whole seconds, in a user's offset."""
    from datetime import datetime, timedelta, timezone
    tz = timezone(timedelta(minutes=offset_minutes))
    return datetime.fromtimestamp(ms // 1000, tz=tz).isoformat()


T0 = 1725300000000  # 2024-09-02T18:00:00Z


def meta(name, ms, user=None, course=None, role=None, request="1dd9dc6f-2fb0-4c19-a6c5-7ee1bf3ed295"):
    m = {"root_account_id": ROOT, "root_account_uuid": "VicYj3cu5BIFpoZhDVU4DZumnlBrWi1grgJEzADs",
         "root_account_lti_guid": "VicYj3cu5BIFpoZhDVU4DZumnlBrWi1grgJEzADs.oxana.instructure.com",
         "event_name": name, "event_time": iso(ms), "producer": "canvas",
         "hostname": "oxana.instructure.com", "request_id": request, "session_id": "ef686f8ed684abf78cbfa1f6a58112b5",
         "http_method": "POST", "client_ip": "93.184.216.34", "user_agent": "Mozilla/5.0"}
    if user is not None:
        m["user_id"] = glob(user)
        m["user_login"] = "user%s@example.edu" % user
    if course is not None:
        m.update({"context_type": "Course", "context_id": glob(course), "context_role": role or "StudentEnrollment"})
    return m


def topic(name, topic_id, course, ms, title, body="<p>Discuss.</p>", updated_ms=None, user=1, assignment=None,
          announcement=False, state="active", lock_ms=None):
    b = {"assignment_id": str(assignment) if assignment else None, "body": body, "context_id": str(course),
         "context_type": "Course", "discussion_topic_id": glob(topic_id), "is_announcement": announcement,
         "lock_at": iso_seconds(lock_ms) if lock_ms else None, "title": title,
         "updated_at": iso_seconds(updated_ms if updated_ms is not None else ms, -360), "workflow_state": state}
    return {"metadata": meta(name, ms, user, course, "TeacherEnrollment"), "body": b}


def entry(entry_id, topic_id, user, course, ms, text, parent=None, role="StudentEnrollment", submitted=None):
    b = {"created_at": iso_seconds(ms, -240), "discussion_entry_id": str(entry_id),
         "discussion_topic_id": str(topic_id), "text": text, "user_id": str(user)}
    if parent is not None:
        b["parent_discussion_entry_id"] = str(parent)
    name = "discussion_entry_created"
    if submitted:
        name = "discussion_entry_submitted"
        b["assignment_id"], b["submission_id"] = str(submitted[0]), str(submitted[1])
    return {"metadata": meta(name, ms, user, course, role), "body": b}


def conversation_created(conv, user, ms):
    return {"metadata": meta("conversation_created", ms, user),
            "body": {"conversation_id": str(conv), "updated_at": iso_seconds(ms)}}


def message(conv, msg, author, ms):
    return {"metadata": meta("conversation_message_created", ms, author),
            "body": {"author_id": str(author), "conversation_id": str(conv), "created_at": iso_seconds(ms, 60),
                     "message_id": str(msg)}}


def forwarded(conv, user, ms):
    return {"metadata": meta("conversation_forwarded", ms, user),
            "body": {"conversation_id": str(conv), "updated_at": iso_seconds(ms, -600)}}


def ndjson(events):
    return "".join(json.dumps(e, separators=(",", ":")) + "\n" for e in events)


def course_story():
    """A small course: a graded topic edited twice, a thread of replies (a teacher answers one post),
    an announcement, a conversation with a forward. Returns the events in event-time order."""
    c, t, a = 565, 123456, 777
    ev = [
        topic("discussion_topic_created", t, c, T0, "Photosynthesis", "<p>How do <b>plants</b> eat?</p>", assignment=a),
        topic("discussion_topic_created", 999, c, T0 + 1000, "Welcome", "<p>Hello class</p>", announcement=True),
        entry(1001, t, 50, c, T0 + 60000, "<p>Chlorophyll absorbs light.</p>", submitted=(a, 9001)),
        entry(1001, t, 50, c, T0 + 60000, "<p>Chlorophyll absorbs light.</p>"),
        entry(1002, t, 51, c, T0 + 120000, "<p>Glucose is made from CO<sub>2</sub> &amp; water.</p>", submitted=(a, 9002)),
        entry(1002, t, 51, c, T0 + 120000, "<p>Glucose is made from CO<sub>2</sub> &amp; water.</p>"),
        entry(1003, t, 2, c, T0 + 180000, "<p>Good point about chlorophyll!</p>", parent=1001, role="TeacherEnrollment"),
        entry(1004, t, 52, c, T0 + 240000, "<p>What about at night?</p>", parent=1003),
        entry(1005, t, 51, c, T0 + 300000, "<p>Respiration happens at night.</p>", parent=1004),
        topic("discussion_topic_updated", t, c, T0 + 400000, "Photosynthesis (week 2)", "<p>How do <b>plants</b> eat?</p>",
              updated_ms=T0 + 400000, assignment=a),
        topic("discussion_topic_updated", t, c, T0 + 500000, "Photosynthesis (week 2)", "<p>How do plants make food?</p>",
              updated_ms=T0 + 500000, assignment=a, lock_ms=T0 + 86400000 * 7),
        conversation_created(31, 50, T0 + 600000),
        message(31, 401, 50, T0 + 600000),
        message(31, 402, 2, T0 + 660000),
        forwarded(31, 2, T0 + 700000),
        message(31, 403, 2, T0 + 700000),
    ]
    return ev
