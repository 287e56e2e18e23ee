-- SPDX-License-Identifier: Apache-2.0
-- wrk script: POST a small body with "Expect: 100-continue".
--
-- wrk sends the headers and the body in one write and counts every response
-- it parses, a "100 Continue" included; after any response it writes the
-- next request.  So after a 100 this script writes nothing (an empty
-- request) and waits for the final response, and it counts final responses
-- itself.  The state is per thread: run it with as many threads as
-- connections (-tN -cN), one connection per thread.
-- BENCH_PATH picks the path (default /small.html).
local path = os.getenv("BENCH_PATH") or "/small.html"
local body = string.rep("x", 64)
local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

function init(args)
   req = wrk.format("POST", path, {
      ["Expect"] = "100-continue",
      ["Content-Type"] = "application/octet-stream",
   }, body)
   nxt = req
   finals = 0
   s100, s2xx, s417, sother = 0, 0, 0, 0
end

function request()
   return nxt
end

function response(status, headers, body)
   if status == 100 then
      s100 = s100 + 1
      nxt = ""
      return
   end
   finals = finals + 1
   if status >= 200 and status < 300 then
      s2xx = s2xx + 1
   elseif status == 417 then
      s417 = s417 + 1
   else
      sother = sother + 1
   end
   nxt = req
end

function done(summary, latency, requests)
   local f, a, b, c, d = 0, 0, 0, 0, 0
   for _, t in ipairs(threads) do
      f = f + t:get("finals")
      a = a + t:get("s100")
      b = b + t:get("s2xx")
      c = c + t:get("s417")
      d = d + t:get("sother")
   end
   io.write(string.format("finals %d\n", f))
   io.write(string.format("statuses 100=%d 2xx=%d 417=%d other=%d\n", a, b, c, d))
end
