/* help.c: the command table and every help text (`levee --help`, `levee help COMMAND`). */
#include "cli.h"

#include <string.h>

#define INPUT_HELP                                                                                 \
    "Input: files named on the command line, or standard input when there is none or the name is\n" \
    "'-'. Each file holds JSON documents one after another: NDJSON (LF or CRLF) or pretty-printed\n" \
    "documents. A document is a canvas-format event ({\"metadata\": ..., \"body\": ...}), a Caliper\n" \
    "1.1 envelope ({\"sensor\", \"sendTime\", \"dataVersion\", \"data\": [...]}) or a bare Caliper event.\n"

#define CHECK_OPTIONS                                                                              \
    "  --strict       treat warnings as errors: a warned-about event is rejected\n"              \
    "  --json         print diagnostics as JSON lines on stderr:\n"                              \
    "                 {\"source\",\"line\",\"severity\",\"event\",\"path\",\"message\"}\n"              \
    "  -q, --quiet    no summary line at the end\n"

#define EXIT_HELP                                                                                  \
    "Exit status: 0 when all input was valid, 1 when some was rejected (the valid rest is still\n"  \
    "processed), 2 for usage or I/O errors.\n"

/* Redaction at intake, as levee ingest and levee pull take it (levee serve lists it with its settings). */
#define REDACT_HELP                                                                                 \
    "  --redact FIELDS      remove these personal metadata fields (comma-separated) from every\n"  \
    "                       document before it is stored, also LEVEE_REDACT: user_login,\n"      \
    "                       user_sis_id, session_id, user_agent, client_ip, url, referrer, and\n" \
    "                       url_query (what follows '?' or '#' in url and referrer)\n"           \
    "  --redact-key FILE    replace them by a keyed hash instead (HMAC-SHA256 of the value with the\n" \
    "                       file's bytes as key, first 16 bytes in hex), also LEVEE_REDACT_KEY\n"

#define REDACT_ABOUT                                                                                \
    "With --redact, the chosen fields leave each document (canvas and Caliper forms) before anything\n" \
    "keeps it: the store, its search index and its export only ever hold the redacted document. With\n" \
    "--redact-key each value becomes its hash, the same for the same value (make a key with: openssl\n" \
    "rand -hex 32 > FILE), so a hash can be computed for a person's value to find their events:\n"   \
    "  printf %s VALUE | openssl dgst -sha256 -hmac \"$(cat FILE)\" | awk '{print substr($NF, 1, 32)}'\n" \
    "The same input is stored as the same bytes, so duplicates are still recognised.\n"

static const char validate_help[] =
    "usage: levee validate [--strict] [--json] [-q] [FILE...]\n"
    "\n"
    "Checks every event against levee's catalog of Canvas Live Events and reports what is wrong,\n"
    "one line per problem on stderr: source:line: event: /path/to/field: what is wrong.\n"
    "\n"
    "Errors reject the event: not JSON, not an object, no event_name or event_time, a timestamp\n"
    "without a UTC offset, of an impossible date or outside the years 0000-9999 (RFC 3339 and\n"
    "Ruby's Time#to_s form, 2019-11-05 07:38:00 -0800, as Canvas writes it, are read exactly), an\n"
    "id that is not a decimal 64-bit integer, a known field of the wrong type, a missing required\n"
    "body id, a Caliper event without a required property or not Caliper 1.1, a document over\n"
    "1,000,000 bytes. Warnings keep the event: an event name outside the model, an unknown field,\n"
    "an unknown enumeration value, text over 8192 characters, a timestamp in a rarer ISO 8601 form\n"
    "(a comma fraction, +hhmm, a leap second: docs/events.md says how each is read).\n"
    "\n" INPUT_HELP "\n"
    "Options:\n" CHECK_OPTIONS "\n" EXIT_HELP "\n"
    "Examples:\n"
    "  levee validate events.ndjson\n"
    "  curl -s https://example.edu/export | levee validate --strict\n"
    "  levee validate --json events.ndjson 2>&1 >/dev/null | jq -r .path | sort | uniq -c\n";

static const char normalize_help[] =
    "usage: levee normalize [--strict] [--json] [-q] [FILE...]\n"
    "\n"
    "Writes levee's canonical record of every valid event to stdout, one JSON object per line:\n"
    "  {\"event\", \"format\", \"time\", \"metadata\", \"body\", \"warnings\"}\n"
    "Times are UTC (RFC 3339, milliseconds, Z); ids are exact decimal strings, with local ids made\n"
    "global on the shard of the event's root account; Caliper events are mapped back to Canvas's\n"
    "names, so both formats give comparable records. Rejected events are reported on stderr and\n"
    "left out. docs/events.md describes the record.\n"
    "\n" INPUT_HELP "\n"
    "Options:\n" CHECK_OPTIONS "\n" EXIT_HELP "\n"
    "Examples:\n"
    "  levee normalize events.ndjson > records.ndjson\n"
    "  levee normalize caliper.json | jq -r '.body.discussion_entry_id'\n";

static const char convert_help[] =
    "usage: levee convert --to canvas|caliper [--pretty] [--strict] [--json] [-q] [FILE...]\n"
    "\n"
    "Converts events between Canvas's two formats, one document per line on stdout.\n"
    "  --to caliper   the Caliper 1.1 envelope Canvas would send, field for field as Canvas's\n"
    "                 Forum page shows it (a reply also gets replyTo). Only discussion_entry_created\n"
    "                 and discussion_topic_created have a documented Caliper form; other events are\n"
    "                 refused with a message. The Caliper event id is derived from the event's\n"
    "                 content, so converting the same event twice gives the same id. Caliper input\n"
    "                 is passed through.\n"
    "  --to canvas    the canvas form of Caliper input; canvas input is passed through.\n"
    "  --pretty       indent the output\n"
    "\n" INPUT_HELP "\n"
    "Options:\n" CHECK_OPTIONS "\n" EXIT_HELP "\n"
    "Examples:\n"
    "  levee convert --to caliper entry.json\n"
    "  levee convert --to caliper events.ndjson | levee convert --to canvas\n";

static const char catalog_help[] =
    "usage: levee catalog\n"
    "\n"
    "Prints the catalog of event kinds levee models (fields, types, whether required or nullable,\n"
    "and where Canvas's Caliper form carries them) as Markdown. docs/events.md includes it.\n"
    "\n"
    "Exit status: 0 when it was written, 2 when the output cannot be written.\n"
    "\n"
    "Example:\n"
    "  levee catalog | less\n";

static const char simulate_help[] =
    "usage: levee simulate [--seed N] [--courses N] [--users N] [--days N] [--start T]\n"
    "                      [--format canvas|caliper] [--rate EVENTS_PER_S | --live | --speed F]\n"
    "                      [--to -|FILE|URL] [--sign-key PEM --kid ID] [-q]\n"
    "       levee simulate --print-jwks --sign-key PEM --kid ID\n"
    "\n"
    "Simulates an institution's courses and writes the conversation and discussion events Canvas\n"
    "would send, at their documented triggers, one JSON document per line, in event_time order.\n"
    "The model: a root account (shard, uuid, lti_guid, hostname) with sub-accounts, courses and\n"
    "groups with SIS ids, users with logins, SIS ids and time zones, enrolled as students, teachers,\n"
    "TAs, designers, observers and one custom role. Teachers create topics and announcements\n"
    "(graded or not, locked, delayed, unpublished then published, deleted) and edit them; students\n"
    "post entries and nested replies (a post to a graded topic is also a submission); everyone\n"
    "writes messages. Activity follows the day and the week (evenings, deadlines); metadata is\n"
    "Canvas's (request, session, URL, user agent, IP; job fields for course copies and delayed\n"
    "posts). docs/simulate.md describes the model and its rules.\n"
    "\n"
    "The same options and seed give the same output, byte for byte (signed output differs only in\n"
    "each JWT's iat, exp and signature).\n"
    "\n"
    "Options:\n"
    "  --seed N          the random seed (default 1)\n"
    "  --courses N       courses, 1 to 100000 (default 5)\n"
    "  --users N         users, 2 to 1000000 (default 150)\n"
    "  --days N          days simulated, 1 to 3660 (default 14)\n"
    "  --start T         when the simulation starts: a date (midnight UTC) or a timestamp with a UTC\n"
    "                    offset (default 2024-09-02, a Monday)\n"
    "  --format F        canvas (default) or caliper; Caliper has only the two kinds Canvas documents\n"
    "                    in Caliper (discussion_entry_created, discussion_topic_created)\n"
    "  --rate R          send R events per second in real time (default: as fast as possible); the\n"
    "                    events keep their simulated times (from --start)\n"
    "  --live            live mode: the simulated clock is the wall clock. The simulation starts\n"
    "                    now and each event is sent when its event_time comes, so a live tail\n"
    "                    shows events dated as they arrive (--days says how long it runs)\n"
    "  --speed F         live mode with the simulated clock starting now and running F times as\n"
    "                    fast as the wall clock (events get dated ahead of it by (F-1) times the\n"
    "                    time elapsed); --speed 1 is --live\n"
    "  --to DEST         '-' for stdout (default), a file name, or an http:// or https:// URL: one POST\n"
    "                    per event on one connection; a non-2xx answer is retried 3 times with\n"
    "                    exponential backoff and jitter, then reported, and sending goes on\n"
    "  --sign-key PEM    sign each event as a JWT (RS256) with this RSA private key ...\n"
    "  --kid ID          ... named ID in the JWT header; the claims are the event's members plus\n"
    "                    iss (https://live-events.canvas.instructure.com), iat and exp\n"
    "  --print-jwks      print the JWKS with the public key of --sign-key, and exit\n"
    "  -q, --quiet       no summary line at the end\n"
    "\n"
    "A summary goes to stderr at the end: events sent, failed and retried, and the rate.\n"
    "Exit status: 0 when every event was written or delivered, 1 when some could not be delivered,\n"
    "2 for usage or I/O errors.\n"
    "\n"
    "Examples:\n"
    "  levee simulate --seed 7 --days 3 | levee validate --strict\n"
    "  levee simulate --courses 20 --users 800 --days 30 --to term.ndjson\n"
    "  levee simulate --format caliper --days 1 | jq -c '.data[0].type'\n"
    "  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out key.pem\n"
    "  levee simulate --print-jwks --sign-key key.pem --kid 2024-09 > jwks.json\n"
    "  levee simulate --rate 5 --sign-key key.pem --kid 2024-09 --to http://127.0.0.1:8080/events\n"
    "  levee simulate --live --courses 300 --users 30000 --to http://127.0.0.1:8080/events\n";

#define DB_HELP                                                                                    \
    "  --db PATH      the store (default: $LEVEE_DB, else ./levee.db): an SQLite file, or a PostgreSQL\n" \
    "                 database (postgresql://USER@HOST/DB or \"host=... dbname=...\", with levee's own\n" \
    "                 levee_schema=NAME and levee_pool_mode=auto|session|transaction: levee help serve)\n"

static const char ingest_help[] =
    "usage: levee ingest [--db PATH] [--strict] [--json] [-q] [--redact FIELDS [--redact-key FILE]]\n"
    "                    [FILE...]\n"
    "\n"
    "Stores events in the embedded store (SQLite, created when absent) or a PostgreSQL database (its\n"
    "tables made on the first ingest). Every document is kept:\n"
    "valid events with their exact bytes (compressed), rejected ones as dead letters with their\n"
    "errors, events outside the model as they came with their metadata indexed. An event already in\n"
    "the store (the same event delivered again, even re-formatted, its members in another order, its\n"
    "strings escaped or its numbers spelled otherwise: docs/events.md#duplicates) is counted as a\n"
    "duplicate and not stored twice, so ingesting the same file twice changes nothing but the\n"
    "duplicate count. A store made by an older levee is upgraded by the first ingest. Topics,\n"
    "replies, conversations, course activity and the search index are rebuilt from the events,\n"
    "whatever order they arrive in.\n"
    "\n"
    "Input is read as it streams, in bounded memory, and committed every 50,000 events: if levee is\n"
    "killed, what was committed stays, and running the same ingest again completes it. A progress\n"
    "bar is drawn when stderr is a terminal; a summary ends the run:\n"
    "  stored N, duplicates N, rejected N, outside the model N (N events in T s, R events/s)\n"
    "On PostgreSQL, a run that stored 10,000 events or more ends with VACUUM (ANALYZE) of levee's\n"
    "tables, so the questions asked next are planned for them as they now are.\n"
    "\n" REDACT_ABOUT "\n" INPUT_HELP "\n"
    "Options:\n" DB_HELP
    "  --strict       reject (keep as dead letters) events that have warnings\n"
    "  --json         also print the summary as JSON on stdout\n"
    "  -q, --quiet    no progress bar or summary\n" REDACT_HELP
    "\n"
    "Exit status: 0 when everything was stored (or was already), 1 when some input was rejected (it\n"
    "is kept as dead letters; the rest is stored), 2 for usage or I/O errors.\n"
    "\n"
    "Examples:\n"
    "  levee ingest events.ndjson\n"
    "  levee simulate --days 30 | levee ingest --db term.db\n"
    "  LEVEE_DB=/var/lib/levee/levee.db levee ingest backfill-*.ndjson\n"
    "  levee ingest --db postgresql://levee@db.example.edu/levee backfill-*.ndjson\n"
    "  levee ingest --redact client_ip,user_agent,url_query events.ndjson\n"
    "  levee ingest --redact user_login,session_id --redact-key /etc/levee/redact.key events.ndjson\n";

static const char pull_help[] =
    "usage: levee pull --sqs QUEUE_URL [--db PATH] [--drain] [--sqs-endpoint URL] [--receivers N]\n"
    "                  [--wait-time-seconds N] [--jwks FILE [--issuer ISS]] [--strict] [--json] [-q]\n"
    "                  [--redact FIELDS [--redact-key FILE]]\n"
    "\n"
    "Receives events from an Amazon SQS queue as Canvas Data Services fills it (a standard queue; each\n"
    "message one canvas event, one Caliper envelope or one signed JWT) and stores them as levee ingest\n"
    "does. Several receivers long-poll the queue (20 s, 10 messages at a time); a message is deleted\n"
    "only once its events are committed to the store, or kept as a dead letter (a body that is not an\n"
    "event), so levee can be killed at any moment without losing one, and a message SQS delivers twice\n"
    "is stored once. While a batch waits to be stored its messages' visibility is extended. A message\n"
    "that cannot be stored for a reason of levee's own (the store locked or full) stays in the queue:\n"
    "SQS delivers it again after its visibility timeout, and the queue's redrive policy applies after\n"
    "its maxReceiveCount. When SQS cannot be reached levee tries again with backoff (up to 30 s) and\n"
    "says so. SIGINT or SIGTERM stops it once what it holds is stored and deleted.\n"
    "\n"
    "Credentials are found as the AWS SDKs find them; the first source set up wins:\n"
    "  1. AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN);\n"
    "  2. a web identity: AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN (and AWS_ROLE_SESSION_NAME),\n"
    "     exchanged at STS (AssumeRoleWithWebIdentity: EKS service accounts, GitHub Actions OIDC);\n"
    "  3. the profile AWS_PROFILE (or default) in ~/.aws/credentials and ~/.aws/config: role_arn with\n"
    "     web_identity_token_file, or with source_profile or credential_source (STS AssumeRole); else\n"
    "     IAM Identity Center (sso_session or sso_start_url, sso_account_id, sso_role_name: the login\n"
    "     `aws sso login` cached, renewed with its refresh token); else credential_process (run\n"
    "     without a shell; its JSON output);\n"
    "     else aws_access_key_id and aws_secret_access_key;\n"
    "  4. a container's role (AWS_CONTAINER_CREDENTIALS_FULL_URI or _RELATIVE_URI, with\n"
    "     AWS_CONTAINER_AUTHORIZATION_TOKEN or _TOKEN_FILE: ECS, EKS pod identity);\n"
    "  5. the EC2 instance's role (IMDSv2; AWS_EC2_METADATA_DISABLED=true skips it).\n"
    "Temporary credentials are fetched again before they expire. STS is asked in the queue's region\n"
    "(AWS_ENDPOINT_URL_STS moves it; AWS_STS_REGIONAL_ENDPOINTS=legacy uses the global endpoint), the\n"
    "IAM Identity Center portal at AWS_ENDPOINT_URL_SSO when set. The region is AWS_REGION,\n"
    "AWS_DEFAULT_REGION, the profile's region, or the one in the queue URL. Requests are signed with\n"
    "AWS Signature Version 4 (by libcurl). Secrets and tokens never appear in levee's output.\n"
    "\n" REDACT_ABOUT "\n"
    "A progress line is drawn when stderr is a terminal; a summary ends the run:\n"
    "  received N messages: stored N events, duplicates N, dead letters N, left in the queue N; deleted N\n"
    "\n"
    "Options:\n"
    "  --sqs QUEUE_URL      the queue, as AWS gives it: https://sqs.REGION.amazonaws.com/ACCOUNT/NAME\n" DB_HELP
    "  --drain              stop once the queue is empty, or holds only messages levee leaves there\n"
    "                       (signed ones, without --jwks); short polls of 1 s: for backfills and tests\n"
    "  --sqs-endpoint URL   send requests there instead (a compatible service, a local emulator); also\n"
    "                       AWS_ENDPOINT_URL_SQS\n"
    "  --receivers N        receives in flight, 1 to 16 (default 3)\n"
    "  --wait-time-seconds N  how long each receive waits for messages, 0 to 20 (default 20, SQS's\n"
    "                       longest poll; a shorter one costs more requests but suits a compatible\n"
    "                       service that answers a long poll only once it has 10 messages)\n"
    "  --jwks FILE          verify signed messages (JWTs) with these keys; without it a signed\n"
    "                       message stays in the queue\n"
    "  --issuer ISS         the iss claim signed messages must carry\n"
    "  --strict             reject (keep as dead letters) events that have warnings\n"
    "  --json               also print the summary as JSON on stdout\n"
    "  -q, --quiet          no progress line, summary or notes\n" REDACT_HELP
    "\n"
    "Exit status: 0 when stopped (or drained) with everything stored, 1 when some messages were kept as\n"
    "dead letters, 2 when SQS refused the credentials or the queue, or the store failed.\n"
    "\n"
    "Examples:\n"
    "  levee pull --sqs https://sqs.us-east-1.amazonaws.com/123456789012/canvas-live-events\n"
    "  AWS_PROFILE=canvas levee pull --sqs \"$QUEUE\" --db /var/lib/levee/levee.db\n"
    "  levee pull --sqs http://127.0.0.1:9324/123456789012/q --sqs-endpoint http://127.0.0.1:9324 --drain\n"
    "  levee pull --sqs \"$QUEUE\" --redact client_ip,user_agent,url_query\n";

static const char export_help[] =
    "usage: levee export [--db PATH] [--event NAME] [--since T] [--until T] [--course ID]\n"
    "       levee export [--db PATH] --dead-letters\n"
    "\n"
    "Writes stored documents to stdout exactly as they were stored, one per line, in the order they\n"
    "arrived: byte for byte as received (a document that came pretty-printed comes back the same), or,\n"
    "when levee redacted it at intake (--redact on serve, ingest or pull), exactly as stored after\n"
    "redaction (without the chosen fields, or with their hashes, written as compact JSON). Filters\n"
    "keep the documents holding a matching event.\n"
    "\n"
    "Options:\n" DB_HELP
    "  --event NAME   only this event, e.g. discussion_entry_created\n"
    "  --since T      events at or after T (ISO 8601 with an offset, or a date: its start in UTC)\n"
    "  --until T      events before T\n"
    "  --course ID    events of this course (local or global id)\n"
    "  --dead-letters the rejected input instead, exactly as received (or stored after redaction)\n"
    "\n"
    "Exit status: 0 when every matching document was written (none matching is not an error), 2 for\n"
    "usage or I/O errors (no store, a damaged one, the output cannot be written).\n"
    "\n"
    "Examples:\n"
    "  levee export > all.ndjson\n"
    "  levee export --event discussion_entry_created --since 2024-09-01 --course 565\n"
    "  levee export --dead-letters | levee validate\n";

static const char stats_help[] =
    "usage: levee stats [--db PATH] [--json]\n"
    "\n"
    "Describes the store: events by name and format, duplicates received, dead letters, events\n"
    "outside the model, the time span, and the bytes on disk per event (against the raw bytes).\n"
    "Then the schema drift: every event name outside the model and every metadata or body field\n"
    "the catalog does not know (as a JSON pointer, /body/reactions), with how many stored events had\n"
    "it and when it was first and last seen (event times), newest first: what Canvas started to\n"
    "send that levee keeps as it came.\n"
    "--json gives {\"events\", \"duplicates\", \"dead_letters\", \"outside_model\", \"by_event\",\n"
    "\"by_format\", \"first_event_time\", \"last_event_time\", \"bytes_on_disk\", \"bytes_per_event\",\n"
    "\"raw_bytes_per_event\", \"dictionaries\", \"drift\": [{\"event\", \"field\", \"format\", \"count\",\n"
    "\"first_seen\", \"last_seen\"}], \"drift_count\"} (\"field\" null for an event name).\n"
    "\n"
    "Options:\n" DB_HELP
    "  --json         JSON instead of a table\n"
    "\n"
    "Exit status: 0 with the figures, 2 for usage or I/O errors (no store, a damaged one).\n"
    "\n"
    "Example:\n"
    "  levee stats --db term.db\n";

static const char backup_help[] =
    "usage: levee backup --to FILE [--db PATH] [--force] [-q]\n"
    "\n"
    "Writes a consistent copy of the store to FILE without stopping levee serve: SQLite's online\n"
    "backup, read from one snapshot in steps of 8 MB, so the server goes on receiving, applying and\n"
    "answering while it runs. The copy is written next to FILE (FILE.partial-PID), synced, verified\n"
    "(SQLite's integrity check, and the same number of events, documents, dead letters, topics,\n"
    "entries, conversations, messages and subscriptions as the store held at the moment copied),\n"
    "and only then given its name. A progress bar is drawn on a terminal.\n"
    "\n"
    "The copy holds what the server had applied at that moment. Events acknowledged but still only in\n"
    "the journal (PATH.journal) are not in it; levee restore and docs/operations.md (Backups) say\n"
    "what becomes of them.\n"
    "\n"
    "Options:\n" DB_HELP
    "  --to FILE      where the copy goes (required); an existing FILE is refused\n"
    "  --force        replace FILE if it exists (only once the new copy is verified)\n"
    "  -q, --quiet    no progress and no summary\n"
    "\n"
    "Exit status: 0 when the copy is written and verified, 2 otherwise (nothing is left at FILE).\n"
    "\n"
    "Examples:\n"
    "  levee backup --db /var/lib/levee/levee.db --to /backup/levee-$(date -u +%F).db\n"
    "  levee check --db /backup/levee-2026-12-01.db\n";

static const char restore_help[] =
    "usage: levee restore --from FILE [--db PATH] [-q]\n"
    "\n"
    "Puts the backup FILE in place of the store PATH. It refuses while a server holds the store (the\n"
    "lock of PATH.journal; stop levee serve first) and holds that lock itself until it is done. FILE\n"
    "is checked first, all of it, as levee check does (nothing changes when it has a problem); then\n"
    "it is copied next to PATH, verified, and renamed over PATH in one step (the old store's -wal and\n"
    "-shm files are removed first), so PATH is either the old store or the whole backup.\n"
    "\n"
    "The journal: the backup records how far it had applied PATH.journal. When levee serve starts,\n"
    "it applies every journal record after that position, so events acknowledged after the backup\n"
    "that the journal still holds come back (those already in the backup are duplicates). A journal\n"
    "that ends before that position (another store's, or one that was lost) is moved aside to\n"
    "PATH.journal.before-restore-TIME and a new one starts at the backup's position.\n"
    "\n"
    "Options:\n" DB_HELP
    "  --from FILE    the backup (required)\n"
    "  -q, --quiet    no progress and no summary\n"
    "\n"
    "Exit status: 0 when restored, 1 when the backup has problems (listed on stdout), 2 for usage\n"
    "or I/O errors (a server holds the store, a file cannot be written).\n"
    "\n"
    "Example:\n"
    "  systemctl stop levee && levee restore --from /backup/levee-2026-12-01.db --db /var/lib/levee/levee.db\n";

static const char check_help[] =
    "usage: levee check [--db PATH] [--no-rebuild] [--scratch DIR] [-q]\n"
    "\n"
    "Verifies a store, and its journal (PATH.journal), without changing them; levee serve may go on\n"
    "running (the store is read from one snapshot, and the journal up to where the server writes):\n"
    "- SQLite's integrity check (pages, indexes, free lists);\n"
    "- every raw document decompresses (with its zstd dictionary) and decodes again, and each event\n"
    "  row kept with it has the dedupe key, event time, name and format that decoding gives;\n"
    "- every dead letter reads back as the document it was kept as;\n"
    "- the topic, entry or conversation each stored event is about has its row;\n"
    "- the counts per event name and format, the documents' bytes and the span of event times\n"
    "  agree with the events;\n"
    "- the derived state agrees, row for row, with a rebuild from the raw events (levee rebuild, run\n"
    "  on a copy: topics and their versions, entries, conversations, messages, forwards, course\n"
    "  activity, participants, counts, drift, totals, the search index term by term);\n"
    "- every journal record checks (magic, length, kind, CRC), segments follow one another without\n"
    "  gaps, no segment ends in a torn record, and the store's applied position lies in the journal.\n"
    "Each problem is printed on stdout as one sentence; a summary goes to stderr.\n"
    "\n"
    "The rebuild is made in a copy of the store (two copies while a server writes to it, so that\n"
    "both sides are of one moment) in DIR, removed afterwards: DIR needs room for them.\n"
    "\n"
    "Options:\n" DB_HELP
    "  --no-rebuild   do not compare the derived state with a rebuild (no copies, much faster)\n"
    "  --scratch DIR  where the copies go (default: the store's directory)\n"
    "  -q, --quiet    no progress and no summary when sound\n"
    "\n"
    "Exit status: 0 when the store is sound, 1 when something is wrong (each problem listed), 2 for\n"
    "usage or I/O errors.\n"
    "\n"
    "Examples:\n"
    "  levee check --db /var/lib/levee/levee.db\n"
    "  levee check --db /backup/levee-2026-12-01.db || echo 'do not restore this one'\n";

static const char rebuild_help[] =
    "usage: levee rebuild [--db PATH] [-q]\n"
    "\n"
    "Recomputes all derived state from the raw archive: topics and their versions, entries,\n"
    "conversations, messages, forwards, course activity, participants, counts, schema drift, the\n"
    "totals and the search index. The derived tables are emptied and every stored document is\n"
    "decompressed, decoded again and its stored events replayed through the same rules that stored\n"
    "them, in arrival order, in one transaction: an interrupted rebuild leaves the store as it was.\n"
    "Events, documents, dead letters, subscriptions and the duplicates counted are kept as they are.\n"
    "It refuses while a server holds the store (stop levee serve first) and holds its journal's lock\n"
    "until it is done. A progress bar is drawn on a terminal.\n"
    "\n"
    "Use it after levee check reports derived state that disagrees with a rebuild, or after an\n"
    "upgrade that changes how state is derived (schema drift of events stored before schema 3).\n"
    "\n"
    "Options:\n" DB_HELP
    "  -q, --quiet    no progress and no summary\n"
    "\n"
    "Exit status: 0 when rebuilt, 2 when not (nothing changed): a server holds the store, or a\n"
    "document cannot be read back (levee check lists what is damaged).\n"
    "\n"
    "Example:\n"
    "  systemctl stop levee && levee rebuild --db /var/lib/levee/levee.db && systemctl start levee\n";

static const char prune_help[] =
    "usage: levee prune --before T [--vacuum] [--db PATH] [--json] [-q]\n"
    "\n"
    "Erases the events whose event time is before T, and the dead letters received before T: their\n"
    "raw documents, search entries and derived rows. A document that also holds a newer event keeps\n"
    "its bytes for that event. What remains of each topic, entry and conversation an erased event was\n"
    "about is replayed through the rules that stored it, so the store answers as a rebuild from the\n"
    "remaining events would: the newest remaining version of a topic becomes current, a topic or\n"
    "conversation with no event left disappears, and the replies of an erased entry stay, under\n"
    "\"[removed]\". Counts, course activity and levee stats are those of the remaining events.\n"
    "\n"
    "It runs in transactions of 500 events, so a levee serve on the same store goes on receiving and\n"
    "answering meanwhile (levee serve --retain does the same by itself). A receipt (when, how many,\n"
    "the limit) is kept in the store: levee forget --receipts lists them. The pages freed are given\n"
    "back to the file system. A store created before levee had this command cannot give pages back\n"
    "one by one: it keeps them for new events, until levee prune --vacuum (with the server stopped)\n"
    "rewrites it once. A store written by an older levee is rebuilt first, once (levee rebuild).\n"
    "\n"
    "Options:\n"
    "  --before T     a time (2024-01-31, 2024-01-31T12:00:00Z) or how long ago: a whole number and\n"
    "                 a unit, s m h or d (400d: the events of the last 400 days stay)\n"
    "  --vacuum       also rewrite an older store's file so that it gives freed pages back (needs the\n"
    "                 store to itself, and free disk space as large as the store, for a while)\n" DB_HELP
    "  --json         print what was done as one JSON object\n"
    "  -q, --quiet    print nothing\n"
    "\n"
    "Exit status: 0 when done, 2 when not (a bad option; the store cannot be written; the rebuild or\n"
    "--vacuum it needs was refused because a server holds the store). An interrupted prune keeps what\n"
    "its committed transactions erased; running it again finishes it.\n"
    "\n"
    "Examples:\n"
    "  levee prune --before 400d\n"
    "  levee prune --before 2023-08-01 --db /var/lib/levee/levee.db --json\n"
    "  systemctl stop levee && levee prune --before 400d --vacuum && systemctl start levee\n";

static const char forget_help[] =
    "usage: levee forget --user ID [--login LOGIN] [--sis-id SIS] [--db PATH] [--json] [-q]\n"
    "       levee forget --receipts [--db PATH] [--json]\n"
    "\n"
    "Erases a person: every stored document holding an event that names them (as the one who acted,\n"
    "metadata user_id or real_user_id; as the poster of an entry, body user_id; as the author of a\n"
    "message, author_id: the catalog marks these fields), whole, with their search entries and\n"
    "derived rows; and every dead letter that mentions them (their id, or their login and SIS id, as\n"
    "their events carried them or as given). From then on an event naming them is not stored: Canvas\n"
    "sends an event again when its delivery seemed to fail, and that must not undo the erasure. The\n"
    "list of people forgotten holds their ids and nothing else.\n"
    "\n"
    "What remains is replayed as levee prune does: an erased entry's replies stay, under \"[removed]\";\n"
    "a conversation keeps the messages of the others. Deleted bytes are overwritten with zeros in the\n"
    "store's file (SQLite's secure_delete), and the write-ahead log is emptied into the file at the end.\n"
    "A receipt is kept: when, how many events, documents and dead letters; nothing about the person.\n"
    "A running levee serve goes on meanwhile; its journal (PATH.journal/) keeps the documents it\n"
    "received until they are applied and the segment is released.\n"
    "\n"
    "Options:\n"
    "  --user ID      the person's Canvas user id (a local id is made global on the store's shard)\n"
    "  --login LOGIN  also erase dead letters holding this text (repeatable; --sis-id likewise)\n"
    "  --receipts     list the receipts of every erasure (prune and forget), oldest first\n" DB_HELP
    "  --json         JSON output\n"
    "  -q, --quiet    print nothing\n"
    "\n"
    "Exit status: 0 when done, 2 when not (a bad option, the store cannot be written).\n"
    "\n"
    "Examples:\n"
    "  levee forget --user 21070000000000123\n"
    "  levee forget --user 123 --login jdoe@example.edu --sis-id S0012345\n"
    "  levee forget --receipts --json\n";

#define WINDOW_HELP                                                                                \
    "  --since T      from T (ISO 8601 with an offset, or a date: its start in UTC)\n"          \
    "  --until T      before T (also \"now\" for waiting times)\n"                               \
    "  --limit N      at most N items per list (default 100)\n"                                 \
    "  --offset N     skip the first N items of each list (paging)\n"                           \
    "  --json         JSON instead of tables\n"

static const char query_help[] =
    "usage: levee query topic ID [--db PATH] [--json]\n"
    "       levee query conversation ID [--db PATH] [--json]\n"
    "       levee query course ID [--since T] [--until T] [--limit N] [--offset N] [--db PATH] [--json]\n"
    "       levee query user ID [--since T] [--until T] [--limit N] [--offset N] [--db PATH] [--json]\n"
    "       levee query courses [--db PATH] [--json]\n"
    "\n"
    "Answers questions from the state levee rebuilt from the events. Ids may be local or global\n"
    "(a local id is made global on the store's shard).\n"
    "  topic          the topic's current fields (last writer by updated_at wins), the history of its\n"
    "                 versions with what each changed, and its reply tree, oldest first. JSON:\n"
    "                 {\"topic\": {...}, \"history\": [...], \"entries\": [{\"id\", \"user_id\",\n"
    "                 \"created_at\", \"text\", \"replies\": [...]}, ...]}\n"
    "  conversation   the conversation and its messages and forwards in time order, with authors\n"
    "  course         topics with entry counts, active users by role and activity per day by event\n"
    "                 (whole UTC days), and student posts no teacher or TA has replied to, with how\n"
    "                 long they have waited (until --until, or now)\n"
    "  user           what the user posted (entries, topics) and sent (conversation messages)\n"
    "  courses        every course with events, topics and users\n"
    "\n"
    "Options:\n" DB_HELP WINDOW_HELP
    "\n"
    "Exit status: 0 with an answer, 1 when the thing asked about is not in the store, 2 for usage or\n"
    "I/O errors.\n"
    "\n"
    "Examples:\n"
    "  levee query topic 123456\n"
    "  levee query course 565 --since 2024-09-01 --until 2024-10-01\n"
    "  levee query conversation 53 --json | jq '.timeline[] | .type'\n";

static const char search_help[] =
    "usage: levee search TEXT... [--course ID] [--since T] [--until T] [--limit N] [--offset N]\n"
    "                    [--db PATH] [--json]\n"
    "\n"
    "Full-text search over entry text and topic titles and bodies (HTML stripped, accents folded),\n"
    "best matches first, each with a snippet. Every word must match; \"quoted words\" match as a\n"
    "phrase; a word ending in * matches as a prefix. Punctuation is ignored.\n"
    "\n"
    "Options:\n" DB_HELP
    "  --course ID    only this course (local or global id)\n" WINDOW_HELP
    "\n"
    "Exit status: 0 with the results (none found is not an error), 2 for usage or I/O errors.\n"
    "\n"
    "Examples:\n"
    "  levee search photosynthesis\n"
    "  levee search '\"cell membrane\"' --course 565\n"
    "  levee search photo* --json | jq -r '.results[].snippet'\n";

static const char serve_help[] =
    "usage: levee serve [--db PATH] [--listen ADDR:PORT] [--jwks FILE] [--require-signature]\n"
    "                   [--ingest-token TOKEN] [--api-token TOKEN] [--issuer ISS]\n"
    "                   [--log-format logfmt|json] [--access-log true|false] [--max-batch-mb N]\n"
    "                   [--tls-cert FILE --tls-key FILE] [--admin-token TOKEN] [--no-deliver]\n"
    "                   [--sqs QUEUE_URL [--sqs-endpoint URL] [--sqs-wait-time-seconds N]]\n"
    "                   [--redact FIELDS [--redact-key FILE]]\n"
    "                   [--config FILE]\n"
    "\n"
    "The receiving service. Point a Canvas Live Events HTTPS subscription at POST /events, served over\n"
    "HTTPS by levee itself (--tls-cert and --tls-key) or through a TLS-terminating reverse proxy. It\n"
    "accepts what Canvas sends, one event per request: a canvas event, a Caliper envelope, or the same\n"
    "as a signed JWT (RS256); and NDJSON batches (application/x-ndjson). The form is recognised from\n"
    "the body. A 2xx answer means the events are durably journaled (one fsync shared by all\n"
    "requests waiting); they are applied to the store in the background. Invalid events get 400\n"
    "with every error, and are kept as dead letters; an event over 1,000,000 bytes gets 413; other\n"
    "content gets 415 and is kept as a dead letter too; a bad token or signature gets 401 (nothing\n"
    "is kept).\n"
    "\n"
    "It also serves the JSON API (/api/...: docs/api.md), a live tail of new events as Server-Sent\n"
    "Events (/api/tail?event=NAME&course=ID), Prometheus metrics (/metrics), /healthz, /readyz, and a\n"
    "web page at /. And it delivers every stored event onward to the store's subscriptions (levee help\n"
    "subscriptions; docs/subscriptions.md), at least once, with retries; at a stop, attempts in flight\n"
    "get 5 s to finish and the rest are sent again at the next start.\n"
    "\n"
    "On PostgreSQL (--db postgresql://...) there is no journal: a 2xx means the transaction holding\n"
    "the events has committed (concurrent requests share one), so any number of nodes can serve one\n"
    "database behind a load balancer and any of them can be lost. Every node's live tail shows what\n"
    "any node received; each subscription is delivered by one node at a time. While the database\n"
    "cannot be written, POST /events answers 503 with Retry-After and /readyz fails, until it can.\n"
    "Two settings of levee's own go in the location (libpq never sees them): levee_schema=NAME, the\n"
    "schema levee's tables are in (else the first schema of the connection's search_path), and\n"
    "levee_pool_mode. Through a pooler such as pgbouncer in transaction mode, levee keeps nothing in\n"
    "the session: its statements are unnamed or prepared for one transaction, its settings are set in\n"
    "each transaction, and the schema must be levee_schema (pgbouncer does not pass options on).\n"
    "levee_pool_mode=auto (the default) finds a pooler by itself (the server's backend process id is\n"
    "not the one libpq was given); session keeps prepared statements (a direct connection, pgbouncer's\n"
    "session mode); transaction says so for a pooler auto does not find. docs/operations.md says what\n"
    "it costs.\n"
    "  levee serve --db postgresql://levee@db.example.edu/levee --listen 10.0.0.11:8080 \\\n"
    "      --ingest-token \"$INGEST\" --api-token \"$API\"\n"
    "  levee serve --db 'postgresql://levee@pgbouncer.example.edu:6432/levee?levee_schema=levee'\n"
    "\n"
    "Settings (flag, environment variable, or \"name = value\" line in --config FILE; flags win over the\n"
    "environment, which wins over the file):\n"
    "  --db PATH             LEVEE_DB                 the store (default ./levee.db); the journal is PATH.journal/ (none on PostgreSQL)\n"
    "  --listen ADDR:PORT    LEVEE_LISTEN             default 127.0.0.1:8080 (port 0: any free port)\n"
    "  --jwks FILE           LEVEE_JWKS               verify signed events with these keys (SIGHUP reloads)\n"
    "  --require-signature   LEVEE_REQUIRE_SIGNATURE  refuse unsigned events\n"
    "  --issuer ISS          LEVEE_ISSUER             required iss of signed events\n"
    "                                                 (default https://live-events.canvas.instructure.com)\n"
    "  --ingest-token TOKEN  LEVEE_INGEST_TOKEN       required on POST /events (?token= or Bearer)\n"
    "  --api-token TOKEN     LEVEE_API_TOKEN          required on /api/... and /metrics\n"
    "  --admin-token TOKEN   LEVEE_ADMIN_TOKEN        required on /api/subscriptions, which are not\n"
    "                                                 served at all without it\n"
    "  --no-deliver          LEVEE_NO_DELIVER         do not deliver the subscriptions here (levee deliver\n"
    "                                                 does, elsewhere)\n"
    "  --sqs QUEUE_URL       LEVEE_SQS                also receive from this Amazon SQS queue, as levee\n"
    "                                                 pull does (AWS credentials as AWS tools take them)\n"
    "  --sqs-endpoint URL    LEVEE_SQS_ENDPOINT       where SQS requests go (a compatible service, tests)\n"
    "  --sqs-wait-time-seconds N  LEVEE_SQS_WAIT_TIME_SECONDS\n"
    "                                                 each receive's long poll, 0 to 20 (default 20),\n"
    "                                                 as levee pull --wait-time-seconds\n"
    "  --retain DURATION     LEVEE_RETAIN             keep events this long by event time (400d, 12h) and\n"
    "                                                 prune older ones in the background, as levee prune\n"
    "                                                 does, while it answers (default: keep everything)\n"
    "  --retain-every D      LEVEE_RETAIN_EVERY       how often it prunes (default 1h; also at the start)\n"
    "  --log-format F        LEVEE_LOG_FORMAT         logfmt (default) or json, on stderr\n"
    "  --access-log BOOL     LEVEE_ACCESS_LOG         a log line per request (default true)\n"
    "  --max-batch-mb N      LEVEE_MAX_BATCH_MB       largest NDJSON batch (default 64)\n"
    "  --tls-cert FILE       LEVEE_TLS_CERT           serve HTTPS with this PEM certificate chain, the\n"
    "                                                 server's certificate first (certbot: fullchain.pem)\n"
    "  --tls-key FILE        LEVEE_TLS_KEY            ... and its PEM private key (certbot: privkey.pem);\n"
    "                                                 both or neither; SIGHUP reloads them\n"
    "  --redact FIELDS       LEVEE_REDACT             remove these personal metadata fields from every\n"
    "                                                 document received (HTTP and SQS) before it is\n"
    "                                                 journaled: user_login, user_sis_id, session_id,\n"
    "                                                 user_agent, client_ip, url, referrer, url_query\n"
    "  --redact-key FILE     LEVEE_REDACT_KEY         hash them instead (HMAC-SHA256, this key)\n"
    "  --config FILE         LEVEE_CONFIG             read settings from FILE\n"
    "Listening on anything but loopback needs both tokens. A token is at least 8 visible characters\n"
    "(make one with: openssl rand -hex 32). Prefer the environment or the config file for tokens:\n"
    "command lines are visible to other users.\n"
    "\n"
    "HTTPS: TLS 1.3 and 1.2 only (1.0 and 1.1 are refused), forward-secret key exchange and AEAD ciphers\n"
    "only (AES-GCM, ChaCha20-Poly1305), with libmicrohttpd's own TLS (GnuTLS). The key must be the\n"
    "certificate's; keep it readable by levee's user only (a key every user can read is warned about).\n"
    "For a Let's Encrypt renewal, have certbot's deploy hook copy the files and send SIGHUP: new\n"
    "connections get the new certificate, open ones keep theirs; a renewal that cannot be loaded (a\n"
    "missing file, not PEM, a key that is not the certificate's) is logged and the certificate in use\n"
    "is kept. docs/operations.md has a certbot example, and the reverse-proxy setup.\n"
    "\n"
    "Redaction: with --redact the chosen fields leave each document (canvas and Caliper forms) before\n"
    "the journal, the store, the live tail or a subscriber sees it; with --redact-key each becomes\n"
    "HMAC-SHA256(key, value) cut to 16 bytes in hex, the same for the same value. An access token in a\n"
    "URL's query (access_token=, token=, X-Amz-Signature=, ...) is never written to the log, with or\n"
    "without --redact: its value is logged as [redacted].\n"
    "\n"
    "One server per store: a second levee serve on the same --db is refused, naming the first. A full\n"
    "disk, or a store locked by another process, is waited out (503 and /readyz say why meanwhile).\n"
    "\n"
    "Signals: SIGTERM or SIGINT stop it gracefully (no new connections, every request answered, the\n"
    "journal is applied, exit 0); SIGHUP reloads the JWKS and the TLS certificate and key.\n"
    "docs/operations.md has the details.\n"
    "\n"
    "Exit status: 0 after a stop by signal; 2 when it cannot start (a bad setting, the address in use,\n"
    "the store in use by another server or damaged, a TLS file missing, unreadable, not PEM or not a\n"
    "matching pair); 1 when applying the journal failed at the stop (the journal keeps the events for\n"
    "the next start).\n"
    "\n"
    "Examples:\n"
    "  levee serve\n"
    "  levee serve --db /var/lib/levee/levee.db --jwks /etc/levee/jwks.json --require-signature\n"
    "  LEVEE_INGEST_TOKEN=$(openssl rand -hex 32) LEVEE_API_TOKEN=$(openssl rand -hex 32) \\\n"
    "      levee serve --listen 0.0.0.0:8080\n"
    "  levee serve --listen 0.0.0.0:443 --tls-cert /etc/levee/tls/fullchain.pem \\\n"
    "      --tls-key /etc/levee/tls/privkey.pem --config /etc/levee/levee.conf\n"
    "  levee serve --redact client_ip,user_agent,user_login,user_sis_id,url_query \\\n"
    "      --redact-key /etc/levee/redact.key\n"
    "  curl -s -X POST --data-binary @event.json http://127.0.0.1:8080/events\n";

static const char subscriptions_help[] =
    "usage: levee subscriptions add --url URL [--name N] [--events LIST] [--course ID]...\n"
    "                               [--source-format canvas|caliper] [--form canvas|caliper|record]\n"
    "                               [--secret whsec_...|new | --sign-key PEM --kid ID]\n"
    "                               [--header 'Name: value']... [--parallel N] [--timeout D]\n"
    "                               [--retry-min D] [--retry-max D] [--max-age D] [--disable-after D]\n"
    "                               [--since T | --from-start]\n"
    "       levee subscriptions list | show ID | pause ID | resume ID | remove ID | dead-letters ID\n"
    "       levee subscriptions replay ID --since T [--until T]\n"
    "       levee subscriptions redeliver ID\n"
    "       levee subscriptions rotate ID [--secret whsec_...|new] [--keep-old D]\n"
    "\n"
    "Delivers every stored event onward to other endpoints (a warehouse, an early-alert system, a\n"
    "Caliper store, another levee): one POST per event to each subscription whose filter matches, in the\n"
    "form it asks for, signed, retried with backoff for days, at least once even across a crash.\n"
    "`levee serve` delivers them (or `levee deliver`); these commands manage them, on the same store,\n"
    "while it runs. docs/subscriptions.md has the model, the guarantees and the retry schedule.\n"
    "\n"
    "add: --events takes names and * ? globs, comma-separated (discussion_*); --course a course id\n"
    "(repeat it for several); --source-format the format events arrived in. --form canvas (default:\n"
    "the bytes as received when they came in canvas form), caliper (the Caliper 1.1 envelope Canvas\n"
    "would send; events without one are skipped) or record (levee's canonical record). --secret signs\n"
    "with Standard Webhooks (webhook-id, webhook-timestamp, webhook-signature headers; 'new' makes a\n"
    "secret, printed once); --sign-key and --kid send a JWT as Canvas signs it. Every request has a\n"
    "webhook-id, the same on every retry and replay. --parallel: requests in flight (default 4; 1 keeps\n"
    "arrival order). Durations D (500ms, 30s, 10m, 2h, 3d): --timeout (15s), --retry-min (5s) and\n"
    "--retry-max (10m) bound the wait between attempts (exponential, with jitter, Retry-After honoured),\n"
    "--max-age (3d) how long an event is retried before it becomes a delivery dead letter,\n"
    "--disable-after (5d) how long every attempt may fail before the subscription is disabled. A 4xx\n"
    "answer other than 408 and 429 is a dead letter at once; 410 Gone disables the subscription. A\n"
    "subscription starts with the next event stored; --since T with the first that arrived at or after\n"
    "T, --from-start with the first of all (a backfill).\n"
    "\n"
    "show: the state, the lag (events not delivered yet, the age of the oldest), counts, the last\n"
    "error and the last attempts. pause and resume stop and start it (resume also starts a disabled\n"
    "one). replay sends again the events whose event time is in [--since, --until), however many:\n"
    "the window is recorded at once and delivery walks it, a few hundred events at a time (it counts\n"
    "the first 10,000 for its answer, \"at least\" beyond); redeliver sends\n"
    "the dead letters again; both keep the webhook-ids. rotate adds a secret and signs with the old\n"
    "ones too until --keep-old (24h) has passed.\n"
    "\n"
    "Output: tables on a terminal, JSON otherwise (or with --json). Secrets are never shown again.\n"
    "\n"
    "Options:\n" DB_HELP
    "  --json         JSON instead of a table\n"
    "\n"
    "Exit status: 0 when done, 1 when there is no such subscription, 2 for usage or I/O errors.\n"
    "\n"
    "Examples:\n"
    "  levee subscriptions add --url https://warehouse.example.edu/events --secret new\n"
    "  levee subscriptions add --url https://lrs.example.edu/caliper --form caliper --events 'discussion_*'\n"
    "  levee subscriptions add --url https://levee2.example.edu/events --sign-key key.pem --kid 2024-09 \\\n"
    "      --from-start\n"
    "  levee subscriptions show 1\n"
    "  levee subscriptions replay 1 --since 2024-09-02 --until 2024-09-03\n";

static const char deliver_help[] =
    "usage: levee deliver [--db PATH] [-q]\n"
    "\n"
    "Delivers the store's subscriptions (levee help subscriptions) on its own, until SIGTERM or SIGINT:\n"
    "on another machine or in another process than `levee serve` (which delivers them too unless\n"
    "started with --no-deliver). Several deliverers can share a store: each subscription is delivered\n"
    "by one at a time (a lease in the store, taken over 30 s after its holder stops). At a stop,\n"
    "attempts in flight get up to 10 s to finish; the rest are sent again later.\n"
    "\n"
    "Options:\n" DB_HELP
    "  -q, --quiet    log nothing\n"
    "\n"
    "Exit status: 0 after a stop by signal, 2 when it cannot start or the store fails.\n"
    "\n"
    "Example:\n"
    "  levee deliver --db /var/lib/levee/levee.db\n";

static const char help_help[] =
    "usage: levee help [COMMAND]\n"
    "\n"
    "Without a command, lists the commands; with one, explains it in full.\n"
    "\n"
    "Exit status: 0, or 2 for a command levee does not have.\n"
    "\n"
    "Example:\n"
    "  levee help validate\n";

static const char copy_help[] =
    "usage: levee copy --from SRC --to DST [--commit-every N] [-q]\n"
    "\n"
    "Moves a whole store into another one, of the same engine or the other: SQLite to PostgreSQL,\n"
    "PostgreSQL to SQLite, SQLite to SQLite (a file path, or a PostgreSQL location as --db takes it).\n"
    "SRC is read from one snapshot (an SQLite read transaction, a PostgreSQL REPEATABLE READ one), so\n"
    "levee serve may go on writing to it: the copy is SRC as it was when the copy began. DST must be\n"
    "empty (a new file, or a PostgreSQL database or schema without levee's rows) and nothing else may\n"
    "write to it until the copy is done. A progress bar is drawn on a terminal.\n"
    "\n"
    "What is copied, exactly:\n"
    "- every event row in arrival order, with its document's bytes as received (levee export gives\n"
    "  the same bytes on both sides), its arrival time, name, format and event time, and the rows one\n"
    "  document shares; the number of duplicates received;\n"
    "- the dead letters, with their bytes, diagnostics, source, line and arrival time;\n"
    "- the people levee forget erased (their events are still refused by DST), the receipts of\n"
    "  erasures and the entries erased (their replies still show under \"[removed]\");\n"
    "- the subscriptions with their ids, settings and secrets, state, counters, last error and\n"
    "  cursor; their events waiting for another attempt, delivery dead letters, recent attempts and\n"
    "  replays. A cursor or a row naming an event is mapped to that event's row in DST.\n"
    "Not copied: the derived state (topics, reply trees, conversations, figures, the search index) is\n"
    "made again in DST by the same rules, event by event, as levee rebuild does; compression\n"
    "dictionaries (DST trains its own: bytes on disk differ); a subscription's lease (whoever delivers\n"
    "DST takes it); SRC's journal (DST has none yet); the time each person was forgotten (the receipts\n"
    "keep when each erasure ran; DST records the copy's time). A copy of 10,000 events or more into\n"
    "PostgreSQL ends with VACUUM (ANALYZE) of levee's tables there, as levee ingest does.\n"
    "\n"
    "Resuming: DST is written in transactions of N events; each commit stays. A copy cut short (an\n"
    "error, Ctrl-C, kill -9, a machine lost) is continued by running the same command again: DST's\n"
    "events are checked to be the beginning of SRC's, one by one, and the copy goes on after them,\n"
    "ending as an uninterrupted copy would (nothing twice, nothing missing). Run again on a complete\n"
    "copy of SRC, it does nothing. It refuses, changing nothing, when SRC and DST are the same store,\n"
    "when DST holds anything that is not a copy of SRC (or SRC lost events since a copy cut short:\n"
    "prune or forget ran on it), and when DST is a complete copy of an SRC that changed since.\n"
    "\n"
    "Options:\n"
    "  --from SRC           the store to copy (required)\n"
    "  --to DST             where the copy goes (required; a file that does not exist is created)\n"
    "  --commit-every N     events (and dead letters) per transaction of DST (default 10000)\n"
    "  -q, --quiet          no progress and no summary\n"
    "\n"
    "Exit status: 0 when DST is a complete copy, 2 otherwise (a refusal or an error, said in a sentence).\n"
    "\n"
    "Examples:\n"
    "  levee copy --from /var/lib/levee/levee.db --to postgresql://levee@db.example.edu/levee\n"
    "  levee copy --from 'host=db.example.edu dbname=levee' --to /srv/levee/levee.db\n";

const lv_command lv_commands[] = {
    { "validate", lv_cmd_validate, "check events against the catalog and report what is wrong", validate_help },
    { "normalize", lv_cmd_normalize, "write levee's canonical record of each event (UTC, exact ids)", normalize_help },
    { "convert", lv_cmd_convert, "convert events between canvas and Caliper 1.1", convert_help },
    { "serve", lv_cmd_serve, "receive events over HTTP or HTTPS; JSON API, live tail, metrics, web page",
      serve_help },
    { "ingest", lv_cmd_ingest, "store events in the embedded store (dedupe, dead letters, state)", ingest_help },
    { "pull", lv_cmd_pull, "receive events from an Amazon SQS queue into the store", pull_help },
    { "query", lv_cmd_query, "a topic's reply tree, a conversation, a course summary, a user", query_help },
    { "search", lv_cmd_search, "full-text search over entries and topics", search_help },
    { "export", lv_cmd_export, "write stored events back exactly as received", export_help },
    { "stats", lv_cmd_stats, "what the store holds and its size per event", stats_help },
    { "backup", lv_cmd_backup, "a consistent, verified copy of a live store", backup_help },
    { "restore", lv_cmd_restore, "put a verified backup in place of a store no server holds", restore_help },
    { "check", lv_cmd_check, "verify a store and its journal: integrity, documents, counts, a rebuild", check_help },
    { "rebuild", lv_cmd_rebuild, "recompute all derived state from the raw archive", rebuild_help },
    { "copy", lv_cmd_copy, "move a whole store into another, SQLite or PostgreSQL; resumable", copy_help },
    { "prune", lv_cmd_prune, "erase the events older than a limit (retention)", prune_help },
    { "forget", lv_cmd_forget, "erase a person and refuse their events from then on", forget_help },
    { "catalog", lv_cmd_catalog, "print the catalog of event kinds and fields (Markdown)", catalog_help },
    { "simulate", lv_cmd_simulate, "simulate a course: the events Canvas would send, to stdout or a URL", simulate_help },
    { "subscriptions", lv_cmd_subscriptions, "deliver events onward: add, list, show, replay subscriptions",
      subscriptions_help },
    { "deliver", lv_cmd_deliver, "run delivery to the subscriptions on its own", deliver_help },
    { "help", lv_cmd_help, "explain a command", help_help },
    { NULL, NULL, NULL, NULL },
};

const lv_command *lv_command_find(const char *name)
{
    for (const lv_command *c = lv_commands; c->name; c++)
        if (strcmp(c->name, name) == 0)
            return c;
    return NULL;
}

void lv_print_usage(FILE *out)
{
    fprintf(out,
            "usage: levee COMMAND [OPTIONS] [ARGS]\n"
            "\n"
            "levee is a self-hosted hub for Canvas LMS Live Events (conversations and discussions),\n"
            "in both formats Canvas emits: canvas and IMS Caliper 1.1.\n"
            "\n"
            "Commands:\n");
    for (const lv_command *c = lv_commands; c->name; c++)
        fprintf(out, "  %-10s %s\n", c->name, c->summary);
    fprintf(out,
            "\n"
            "Options for every command:\n"
            "  -h, --help     explain the command (same as 'levee help COMMAND')\n"
            "  --version      print levee's version\n"
            "\n" EXIT_HELP
            "\n"
            "Examples:\n"
            "  levee validate events.ndjson\n"
            "  levee normalize events.ndjson | jq .time\n"
            "  levee convert --to caliper entry.json\n"
            "  levee help validate\n");
}
