-- post.lua: the wrk script of the HTTP benchmark (bench/service.py). Each request POSTs one distinct
-- discussion_entry_created event in canvas format, as Canvas's HTTPS delivery sends it (one event per
-- request, full metadata, about 1.9 KB, an entry of realistic length), so every request is a new event
-- the server must decode, validate, journal durably and store; none is a duplicate.
-- Each wrk thread numbers its events from its own base, made of the run's number (the script's
-- argument: `wrk ... -s post.lua URL -- RUN`) and the thread's, so no two runs or threads collide.

local next_thread = 0
function setup(thread)
  next_thread = next_thread + 1
  thread:set("thread_no", next_thread)
end

local base = 0
function init(args)
  base = ((tonumber(args[1]) or 0) * 64 + thread_no) * 100000000
end

local counter = 0
local template = '{"metadata":{"root_account_id":"70580000000000001",'
  .. '"root_account_uuid":"gjYrIEX1i575pl3EeCDcelVZNY0u8A2aYoOPzXdF",'
  .. '"root_account_lti_guid":"gjYrIEX1i575pl3EeCDcelVZNY0u8A2aYoOPzXdF.northfield.instructure.com",'
  .. '"event_name":"discussion_entry_created","event_time":"2024-09-02T00:22:45.%03dZ","producer":"canvas",'
  .. '"user_id":"70580000000097986","user_login":"jmensah91","user_account_id":"70580000000000001",'
  .. '"user_sis_id":"S20245073","time_zone":"America/Phoenix","context_type":"Course",'
  .. '"context_id":"70580000000000922","context_sis_source_id":null,"context_account_id":"70580000000000076",'
  .. '"context_role":"StudentEnrollment","request_id":"cb5e910d-95f9-468c-96dd-%012d",'
  .. '"session_id":"a09d13fbaeb6118041a8e6b03f92f2cd","hostname":"northfield.instructure.com",'
  .. '"http_method":"POST","user_agent":"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) '
  .. 'Chrome/124.0.0.0 Safari/537.36","client_ip":"24.151.115.105",'
  .. '"url":"https://northfield.instructure.com/api/v1/courses/922/discussion_topics/4792/entries",'
  .. '"referrer":"https://northfield.instructure.com/courses/922/discussion_topics/4792"},'
  .. '"body":{"created_at":"2024-09-01T17:22:45-07:00","discussion_entry_id":"%d","discussion_topic_id":"4792",'
  .. '"text":"<p>Trade to how explain! In my opinion, colonial life can also case source in. Point often group '
  .. 'revolution system source when class which with reform understand is a week (post %d).</p><p>Cause interesting '
  .. 'and should \\u3042\\u308a\\u304c\\u3068\\u3046 question source perhaps? I agree with really but primary source '
  .. 'it actually many. I see it differently: of made primary source research a and colonial what colonial the? '
  .. 'Building on what others said, perhaps class therefore when naïve archive therefore. Is first dynasty reading '
  .. 'from data research trade actually cause always monarchy to with was result life.</p><p>Approach the '
  .. 'conclusion first important perspective seems author what class a most always therefore.</p>",'
  .. '"user_id":"97986"}}'

local headers = { ["Content-Type"] = "application/json" }

function request()
  counter = counter + 1
  local id = base + counter
  return wrk.format("POST", "/events", headers, string.format(template, counter % 1000, id, id, id))
end
