-- The alerter heard from these members (hostname:<host>, source:<name>) in one batch: for those a
-- heartbeat watches, record when (now, Redis clock) and push out when they count as quiet.
-- KEYS: watched, last_seen, due ; ARGV: members
-- include mutt_app.core:now_ms
local now = now_ms()
local recorded = 0
for _, member in ipairs(ARGV) do
  local interval = redis.call('HGET', KEYS[1], member)
  if interval then
    redis.call('ZADD', KEYS[2], 'GT', now, member)
    redis.call('ZADD', KEYS[3], 'GT', now + tonumber(interval), member)
    recorded = recorded + 1
  end
end
return recorded
