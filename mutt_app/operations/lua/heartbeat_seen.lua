-- The alerter heard from these members (hostname:<host>, source:<name>) in one batch: for those a
-- heartbeat watches, record when (now, Redis clock) and push out when they count as quiet.
-- Three commands whatever the batch (at most MAX_MEMBERS_PER_CALL members: unpack's limit).
-- KEYS: watched, last_seen, due ; ARGV: members
-- include mutt_app.core:now_ms
local intervals = redis.call('HMGET', KEYS[1], unpack(ARGV))
local now = now_ms()
local seen, due = {}, {}
for i, interval in ipairs(intervals) do
  if interval then
    seen[#seen + 1] = now
    seen[#seen + 1] = ARGV[i]
    due[#due + 1] = now + tonumber(interval)
    due[#due + 1] = ARGV[i]
  end
end
if #seen > 0 then
  redis.call('ZADD', KEYS[2], 'GT', unpack(seen))
  redis.call('ZADD', KEYS[3], 'GT', unpack(due))
end
return #seen / 2
