-- xhr-polling echo on SockJS sessions opened beforehand, for bench/handoff.py.
--
--   wrk -tN -cN -s bench/handoff_polling.lua http://HOST:PORT/ -- SESSIONS_FILE /echo/000 BODY
--
-- One connection per thread (-t and -c equal), so a thread's requests are
-- its connection's. Line i of SESSIONS_FILE (counting from 0) holds thread
-- i's session ids, space-separated; the thread cycles through xhr_send
-- (BODY) to each of them in turn, then xhr (the poll) to each: with two
-- sessions A B, "A send, B send, A poll, B poll, ...". A send must answer
-- 204 and a poll 200 with an a-frame; anything else is counted, and done()
-- prints the count as "bad answers: N".
--
-- The schedule moves on in response(), not in request(): wrk calls
-- request() once more for thread 0 before the run, to check the request.

local threads = {}

function setup(thread)
   thread:set("index", #threads)
   table.insert(threads, thread)
end

function init(args)
   local file = assert(io.open(args[1]))
   local prefix = args[2]
   local body = args[3]
   local line, n = nil, 0
   for text in file:lines() do
      if n == index then
         line = text
         break
      end
      n = n + 1
   end
   file:close()
   assert(line, "no sessions for thread " .. index)
   local host = wrk.host .. (wrk.port and (":" .. wrk.port) or "")
   local ids = {}
   for id in line:gmatch("%S+") do
      ids[#ids + 1] = id
   end
   schedule, sends = {}, {}
   for _, id in ipairs(ids) do
      schedule[#schedule + 1] = wrk.format("POST", prefix .. "/" .. id .. "/xhr_send",
         {["Host"] = host, ["Content-Type"] = "text/plain;charset=UTF-8"}, body)
      sends[#schedule] = true
   end
   for _, id in ipairs(ids) do
      schedule[#schedule + 1] = wrk.format("POST", prefix .. "/" .. id .. "/xhr", {["Host"] = host}, "")
   end
   step = 1
   bad = 0
end

function request()
   return schedule[step]
end

function response(status, headers, body)
   if sends[step] then
      if status ~= 204 then
         bad = bad + 1
      end
   elseif status ~= 200 or body:sub(1, 2) ~= "a[" then
      bad = bad + 1
   end
   step = step % #schedule + 1
end

function done(summary, latency, requests)
   local total = 0
   for _, thread in ipairs(threads) do
      total = total + (thread:get("bad") or 0)
   end
   io.write(string.format("bad answers: %d\n", total))
end
