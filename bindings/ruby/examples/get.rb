#!/usr/bin/env ruby
# frozen_string_literal: true

# get URL: fetches one URL over HTTP/2 and prints the status, headers and body
# (the Ruby version of c-examples/get.c). With --stream the body is written as it arrives;
# with -L redirects are followed (up to 10). The proxy comes from the environment
# (https_proxy, http_proxy, all_proxy, no_proxy), as with curl.
#
#   ruby -Ilib examples/get.rb http://127.0.0.1:8080/bytes/100
#   ruby -Ilib examples/get.rb --stream -L https://example.com/ > page.html

require "h2client"

stream = ARGV.delete("--stream")
follow = ARGV.delete("-L")
abort "usage: get.rb [--stream] [-L] URL" unless ARGV.size == 1

url = ARGV[0]

begin
  # No base URL: the request names the whole URL, and a redirect may lead to any origin.
  H2Client::Client.open(connect_timeout_ms: 5_000, request_timeout_ms: 30_000,
                        follow_redirects: follow ? 10 : 0) do |client|
    $stdout.binmode
    if stream
      # The block gets each piece of the body as it arrives (and the response head).
      res = client.get(url) { |chunk, _head| $stdout.write(chunk) }
      warn "HTTP/2 #{res.status} #{res.url}"
    else
      res = client.get(url)
      puts "HTTP/2 #{res.status}"
      res.header_list.each { |name, value| puts "#{name}: #{value}" }
      puts
      $stdout.write(res.body)
      res.trailer_list.each { |name, value| warn "trailer #{name}: #{value}" }
      n = res.redirect_count
      warn "(followed #{n} redirect#{n == 1 ? "" : "s"} to #{res.url})" if n.positive?
    end
  end
rescue H2Client::Error => e
  warn "get: #{e.code_name}: #{e.message}"
  warn "get: the server did not process the request (safe to retry)" if e.processed == :no
  exit 1
end
