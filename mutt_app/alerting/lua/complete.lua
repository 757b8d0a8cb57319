-- KEYS: batch, pending, attempts, backlog, stats ; ARGV: batch_id, then field, count pairs
local n = redis.call('LLEN', KEYS[1])
if redis.call('DEL', KEYS[1]) == 0 then return 0 end
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('DECRBY', KEYS[4], n)
for i = 2, #ARGV, 2 do
  redis.call('HINCRBY', KEYS[5], ARGV[i], tonumber(ARGV[i + 1]))
end
return 1
