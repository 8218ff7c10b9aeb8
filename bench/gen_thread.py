#!/usr/bin/env python3
"""gen_thread.py: one large discussion for the store benchmark's reply-tree query: a topic and N
discussion_entry_created events (default 10,000) in one course, as Canvas sends them (canvas format).
The simulator's topics are small, so bench/run.py appends this thread to the simulated corpus.

The thread: a teacher's topic; about 300 students, the teacher and two TAs post; a quarter of the
entries start a new thread, the others reply to a recent entry (nested up to 8 levels); HTML text of
log-normal length (median about 420 characters for entries, 160 for replies, a tail of long posts),
some of it unicode. Its own root account (shard 4242) and course, so its ids never meet the simulated
institution's: metadata ids global, body ids local (the topic id in the topic event global), as Canvas
sends them. Deterministic: the same N and seed give the same bytes.

usage: bench/gen_thread.py [--entries N] [--seed S] > thread.ndjson
As a module: thread(entries, seed) -> (events, info), info = {"topic_id", "course_id", ...} (global ids).
"""
import argparse
import json
import math
import random
import sys
import uuid
from datetime import datetime, timedelta, timezone

SHARD = 4242
FACTOR = 10 ** 13
ROOT = SHARD * FACTOR + 1
HOST = "lakeview.instructure.com"
ROOT_UUID = "Lk7vQ2pX9sTz4bN1cR8mW3yH6dF0gJ5aE2uK7iOq"
COURSE = 90001
SUBACCOUNT = 12
TOPIC = 700001
FIRST_ENTRY = 5000001
START = datetime(2024, 9, 9, 14, 0, 0, tzinfo=timezone.utc)
MAX_DEPTH = 8

WORDS = ("the of and to in is that it for as with was on be by this are or from at an but not have "
         "they which one you were all we when there can more if so what about would their how my also "
         "because think agree question reading lecture point example evidence argument chapter week "
         "cell membrane protein energy enzyme gene mitochondria photosynthesis glucose receptor pathway "
         "experiment hypothesis data result sample control variable model theory observation lab").split()
UNICODE = ["naïve", "café", "résumé", "Straße", "北京", "ありがとう", "감사합니다", "مرحبا", "שלום",
           "Привет", "λόγος", "👍", "🙂", "📚"]
OPENERS = ["I agree with", "Building on what others said,", "I see it differently:", "Good point about",
           "To be honest,", "Looking back at the lecture,", "In my opinion,", "Quick question:"]
ZONES = [("America/New_York", -240), ("America/Chicago", -300), ("America/Denver", -360),
         ("America/Los_Angeles", -420), ("Europe/London", 60), ("Asia/Kolkata", 330), (None, -300)]
AGENTS = ["Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
          "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
          "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0",
          "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148"]


def glob(local):
    return str(SHARD * FACTOR + local)


def event_time(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (dt.microsecond // 1000)


def body_time(dt, offset_minutes):
    return dt.astimezone(timezone(timedelta(minutes=offset_minutes))).replace(microsecond=0).isoformat()


def sentence(rng):
    n = max(3, int(rng.lognormvariate(2.4, 0.4)))
    words = [rng.choice(UNICODE) if rng.random() < 0.02 else rng.choice(WORDS) for _ in range(n)]
    if rng.random() < 0.3:
        words = rng.choice(OPENERS).split() + words
    if rng.random() < 0.08:
        i = rng.randrange(len(words))
        words[i] = rng.choice(["<strong>%s</strong>", "<em>%s</em>"]) % words[i]
    s = " ".join(words)
    return s[0].upper() + s[1:] + rng.choice(".....?!")


def html(rng, median):
    """HTML of about log-normal length around `median` characters, in paragraphs."""
    target = min(9000, int(rng.lognormvariate(math.log(median), 0.8)))
    paras, size = [], 0
    while size < target:
        para = []
        for _ in range(rng.randint(1, 5)):
            para.append(sentence(rng))
            size += len(para[-1]) + 1
            if size >= target:
                break
        paras.append("<p>" + " ".join(para) + "</p>")
        size += 7
    return "".join(paras)


def thread(entries=10000, seed=1):
    rng = random.Random(seed)
    users = []  # (local id, login, role, zone, offset, agent, ip)
    for k in range(303):
        role = "TeacherEnrollment" if k == 0 else "TaEnrollment" if k < 3 else "StudentEnrollment"
        zone, offset = rng.choice(ZONES)
        users.append((810000 + k * 7, "user%d" % (810000 + k * 7), role, zone, offset, rng.choice(AGENTS),
                      "%d.%d.%d.%d" % (rng.randint(11, 223), rng.randint(0, 255), rng.randint(0, 255),
                                       rng.randint(1, 254))))
    weights = [8.0, 3.0, 3.0] + [rng.lognormvariate(0, 1) for _ in range(300)]

    def meta(name, t, user, method, url, referrer):
        local, login, role, zone, _, agent, ip = user
        return {"root_account_id": str(ROOT), "root_account_uuid": ROOT_UUID,
                "root_account_lti_guid": ROOT_UUID + "." + HOST, "event_name": name,
                "event_time": event_time(t), "producer": "canvas", "user_id": glob(local),
                "user_login": login, "user_account_id": str(ROOT), "user_sis_id": "S%07d" % local,
                "time_zone": zone, "context_type": "Course", "context_id": glob(COURSE),
                "context_sis_source_id": "2024FA-BIO-210-01", "context_account_id": glob(SUBACCOUNT),
                "context_role": role, "request_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "session_id": "%032x" % rng.getrandbits(128), "hostname": HOST, "http_method": method,
                "user_agent": agent, "client_ip": ip, "url": url, "referrer": referrer}

    base = "https://%s/api/v1/courses/%d/discussion_topics/%d" % (HOST, COURSE, TOPIC)
    page = "https://%s/courses/%d/discussion_topics/%d" % (HOST, COURSE, TOPIC)
    t = START
    teacher = users[0]
    events = [{"metadata": meta("discussion_topic_created", t, teacher, "POST",
                                "https://%s/api/v1/courses/%d/discussion_topics" % (HOST, COURSE),
                                "https://%s/courses/%d/discussion_topics/new" % (HOST, COURSE)),
               "body": {"assignment_id": None, "body": html(rng, 900), "context_id": str(COURSE),
                        "context_type": "Course", "discussion_topic_id": glob(TOPIC), "is_announcement": False,
                        "lock_at": None, "title": "Open forum: cell biology all term", "updated_at":
                        body_time(t, teacher[4]), "workflow_state": "active"}}]
    depth = []
    max_depth = 0
    for i in range(entries):
        t += timedelta(milliseconds=int(rng.expovariate(1 / 120000)) + 1500)
        user = rng.choices(users, weights)[0]
        entry_id = FIRST_ENTRY + i
        parent = None
        if i >= 20 and rng.random() >= 0.25:
            for _ in range(8):
                j = max(0, i - 1 - int(rng.expovariate(1 / 40)))
                if depth[j] < MAX_DEPTH:
                    parent = j
                    break
        if parent is None:
            depth.append(1)
            url = base + "/entries"
            text = html(rng, 420)
        else:
            depth.append(depth[parent] + 1)
            url = base + "/entries/%d/replies" % (FIRST_ENTRY + parent)
            text = html(rng, 160)
        max_depth = max(max_depth, depth[-1])
        b = {"created_at": body_time(t, user[4]), "discussion_entry_id": str(entry_id),
             "discussion_topic_id": str(TOPIC)}
        if parent is not None:
            b["parent_discussion_entry_id"] = str(FIRST_ENTRY + parent)
        b["text"] = text
        b["user_id"] = str(user[0])
        events.append({"metadata": meta("discussion_entry_created", t, user, "POST", url, page), "body": b})
    info = {"topic_id": glob(TOPIC), "course_id": glob(COURSE), "entries": entries,
            "top_level": depth.count(1), "max_depth": max_depth, "root_account_id": str(ROOT)}
    return events, info


def write(events, f):
    for ev in events:
        f.write(json.dumps(ev, ensure_ascii=False, separators=(",", ":")))
        f.write("\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=10000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    events, info = thread(args.entries, args.seed)
    write(events, sys.stdout)
    print("gen_thread: %s" % json.dumps(info), file=sys.stderr)


if __name__ == "__main__":
    main()
