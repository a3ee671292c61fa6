#!/usr/bin/env ruby
# frozen_string_literal: true

# get URL: fetches one URL over HTTP/2 and prints the status, headers and body
# (the Ruby version of c-examples/get.c). With --stream the body is written as it arrives.
#
#   ruby -Ilib examples/get.rb http://127.0.0.1:8080/bytes/100
#   ruby -Ilib examples/get.rb --stream https://example.com/ > page.html

require "h2client"

stream = ARGV.delete("--stream")
abort "usage: get.rb [--stream] URL" unless ARGV.size == 1

url = ARGV[0]
# The client takes "scheme://host:port" (a path in it is ignored); requests name the path.
path = url[%r{\Ahttps?://[^/?#]+(/[^#]*)?}, 1] || "/"

begin
  H2Client::Client.open(url, connect_timeout_ms: 5_000, request_timeout_ms: 30_000) do |client|
    $stdout.binmode
    if stream
      # The block gets each piece of the body as it arrives (and the response head).
      res = client.get(path) { |chunk, _head| $stdout.write(chunk) }
      warn "HTTP/2 #{res.status}"
    else
      res = client.get(path)
      puts "HTTP/2 #{res.status}"
      res.header_list.each { |name, value| puts "#{name}: #{value}" }
      puts
      $stdout.write(res.body)
      res.trailer_list.each { |name, value| warn "trailer #{name}: #{value}" }
    end
  end
rescue H2Client::Error => e
  warn "get: #{e.code_name}: #{e.message}"
  warn "get: the server did not process the request (safe to retry)" if e.processed == :no
  exit 1
end
