-- KEYS: batch, pending, attempts ; ARGV: batch_id, lease_deadline, new batch keys and ids (pairs)
-- Replace one batch by one batch per event (to isolate an event that keeps killing workers).
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local items = redis.call('LRANGE', KEYS[1], 0, -1)
for i, item in ipairs(items) do
  local key, id = ARGV[1 + 2 * i], ARGV[2 + 2 * i]
  if key then
    redis.call('RPUSH', key, item)
    redis.call('ZADD', KEYS[2], ARGV[2], id)
  end
end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
return #items
