-- include mutt_app.core:now_ms
-- KEYS: per (hostname, fingerprint) key of the batch: its window zset, its suppression key
-- ARGV: window_ms, threshold, then per key: how many event ids, the event ids
-- Returns per key: count, triggering event id or "".
local now = now_ms()
local window = tonumber(ARGV[1])
local threshold = tonumber(ARGV[2])
local results = {}
local at = 3
for k = 1, #KEYS, 2 do
  local counted, suppressed = KEYS[k], KEYS[k + 1]
  local last = at + tonumber(ARGV[at])
  redis.call('ZREMRANGEBYSCORE', counted, '-inf', now - window)
  local fired = redis.call('GET', suppressed)
  local count = redis.call('ZCARD', counted)
  local trigger = ''
  for i = at + 1, last do
    if fired then
      -- suppressed: nothing is counted, but a redelivered batch gets its own meta-alert back
      if fired == ARGV[i] then trigger = fired end
    else
      count = count + redis.call('ZADD', counted, 'NX', now, ARGV[i])  -- an id counted already adds 0
      if count >= threshold then
        redis.call('SET', suppressed, ARGV[i], 'PX', window)
        fired = ARGV[i]
        trigger = fired
      end
    end
  end
  redis.call('PEXPIRE', counted, window)
  table.insert(results, count)
  table.insert(results, trigger)
  at = last + 1
end
return results
