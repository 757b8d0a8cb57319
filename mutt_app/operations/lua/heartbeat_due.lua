-- One run of the checker: the members whose deadline has passed, with when each was last seen.
-- If the checker has not run for more than ARGV[1] ms, has never run, or the clock went back, it
-- re-baselines instead: every watched member gets a whole interval from now (and a last-seen time
-- in the future is pulled back to now), and nothing is due this run.
-- KEYS: watched, last_seen, due, checked_at ; ARGV: max_gap_ms
-- Returns {now, rebaselined (0/1), member, deadline, last_seen or false, ...}
-- include mutt_app.core:now_ms
local now = now_ms()
local previous = tonumber(redis.call('GET', KEYS[4]))
redis.call('SET', KEYS[4], now)
if previous == nil or now < previous or now - previous > tonumber(ARGV[1]) then
  local watched = redis.call('HGETALL', KEYS[1])
  for i = 1, #watched, 2 do
    redis.call('ZADD', KEYS[3], now + tonumber(watched[i + 1]), watched[i])
    local seen = tonumber(redis.call('ZSCORE', KEYS[2], watched[i]))
    if seen and seen > now then redis.call('ZADD', KEYS[2], now, watched[i]) end
  end
  return {now, 1}
end
local due = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now, 'WITHSCORES')
local out = {now, 0}
for i = 1, #due, 2 do
  out[#out + 1] = due[i]
  out[#out + 1] = due[i + 1]
  out[#out + 1] = redis.call('ZSCORE', KEYS[2], due[i]) or false
end
return out
