# SPDX-License-Identifier: Apache-2.0
# Upload a body with Ruby's Net::HTTP.  Net::HTTP never adds Expect by
# itself; with the header set by the application and continue_timeout set,
# it waits that long for a 100 before it sends the body, and returns a
# final status that comes instead of the 100 without sending the body.
# Prints one JSON object on stdout.
#
#   ruby ruby_net_http_upload.rb URL SIZE MODE
#   MODE: expect:SECONDS   Expect: 100-continue, continue_timeout SECONDS
#         expect           Expect: 100-continue, no continue_timeout
#         no-expect        no Expect header
require 'json'
require 'net/http'
require 'securerandom'

url, size, mode = ARGV
unless url && size && mode
  warn 'usage: ruby ruby_net_http_upload.rb URL SIZE MODE'
  exit 2
end
body = SecureRandom.random_bytes(Integer(size))
uri = URI(url)
http = Net::HTTP.new(uri.host, uri.port)
http.read_timeout = 20
req = Net::HTTP::Post.new(uri.request_uri)
req['Content-Type'] = 'application/octet-stream'
if mode.start_with?('expect:')
  http.continue_timeout = Float(mode.split(':', 2)[1])
  req['Expect'] = '100-continue'
elsif mode == 'expect'
  req['Expect'] = '100-continue'
elsif mode != 'no-expect'
  warn "unknown MODE #{mode}"
  exit 2
end
req.body = body
result = { client: 'ruby-net-http', version: "Ruby #{RUBY_VERSION}", mode: mode,
           status: nil, error: nil, echo_matches: false }
t0 = Process.clock_gettime(Process::CLOCK_MONOTONIC)
begin
  res = http.request(req)
  result[:status] = Integer(res.code)
  result[:echo_matches] = res.body.to_s.b == body
rescue StandardError => e
  result[:error] = "#{e.class}: #{e.message}"
end
result[:elapsed] = Process.clock_gettime(Process::CLOCK_MONOTONIC) - t0
puts JSON.generate(result)
