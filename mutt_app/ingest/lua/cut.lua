-- include mutt_app.core:now_ms
-- KEYS: buffer, pending, batch, buffer_since ; ARGV: batch_id, max_events, lease_deadline, due_ms
-- With due_ms > 0, cut only when the oldest buffered event has waited that long.
-- Returns {events cut, ms until the buffer is due (0: it is empty)}.
local now = now_ms()
local due = tonumber(ARGV[4])
if due > 0 then
  local since = redis.call('GET', KEYS[4])
  if since and now - tonumber(since) < due then return {0, due - (now - tonumber(since))} end
end
local items = redis.call('LPOP', KEYS[1], tonumber(ARGV[2]))
if not items then
  redis.call('DEL', KEYS[4])
  return {0, 0}
end
redis.call('RPUSH', KEYS[3], unpack(items))
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
-- what stays came after the events cut (the rest of the request that filled the batch, or newer)
if redis.call('LLEN', KEYS[1]) > 0 then
  redis.call('SET', KEYS[4], now)
  return {#items, math.max(due, 1)}  -- not empty: due in an interval (1 ms when no interval was given)
end
redis.call('DEL', KEYS[4])
return {#items, 0}
