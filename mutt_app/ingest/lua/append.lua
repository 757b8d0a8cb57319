-- include mutt_app.core:now_ms
-- include mutt_app.core:gcra
-- KEYS: buffer, backlog, stats, rate_limit, last_used, metric_1m, metric_1h, metric_24h, buffer_since, rejected
-- ARGV: rate_limit, rate_window_ms, max_backlog, key_id, now_s, ttl_1m, ttl_1h, ttl_24h, rejected_count,
--       events..., rejected items...
-- Returns {status, backlog or wait, buffered, rejected items waiting to be stored}.
local r = tonumber(ARGV[9])
local last = #ARGV - r  -- ARGV[10 .. last] are events, ARGV[last + 1 ..] rejected items
local n = last - 9
local limit = tonumber(ARGV[1])
local now = now_ms()
if limit > 0 then
  local wait = gcra(KEYS[4], limit, tonumber(ARGV[2]), now)
  if wait > 0 then return {1, wait, 0, 0} end
end
local backlog = tonumber(redis.call('GET', KEYS[2]) or '0')
if n > 0 and backlog + n > tonumber(ARGV[3]) then return {2, backlog, 0, 0} end
local buffered = 0
for i = 10, last, 1000 do  -- unpack() takes at most about 8,000 values
  buffered = redis.call('RPUSH', KEYS[1], unpack(ARGV, i, math.min(i + 999, last)))
end
if n > 0 and buffered == n then redis.call('SET', KEYS[9], now) end  -- these are the oldest now
local waiting = 0
for i = last + 1, #ARGV, 1000 do
  waiting = redis.call('RPUSH', KEYS[10], unpack(ARGV, i, math.min(i + 999, #ARGV)))
end
if r > 0 then redis.call('HINCRBY', KEYS[3], 'rejected', r) end
redis.call('HSET', KEYS[5], ARGV[4], ARGV[5])
if n == 0 then return {0, backlog, 0, waiting} end
backlog = redis.call('INCRBY', KEYS[2], n)
redis.call('HINCRBY', KEYS[3], 'accepted', n)
for i = 6, 8 do  -- a bucket gets its time to live from the events that create it
  if redis.call('INCRBY', KEYS[i], n) == n then redis.call('EXPIRE', KEYS[i], tonumber(ARGV[i])) end
end
return {0, backlog, buffered, waiting}
