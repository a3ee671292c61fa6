# frozen_string_literal: true

# N requests of one variant of bench/overhead.rb, nothing else: for counting instructions
# under callgrind (bench/instructions.sh), where timing means nothing.
#
#   ruby -Ilib bench/loop.rb VARIANT URL N
#     VARIANT  get (Client#get), header (get + res["content-type"]), stream (get with a
#              block), bare (h2_request_new + h2_client_do + h2_response_free)
#
# 200 requests of the variant run first (connection, warm caches), then N.

require "h2client"
require_relative "bare"

variant, url, n = ARGV
abort "usage: loop.rb get|header|stream|bare URL N" unless variant && url && n
n = Integer(n)
origin = url[%r{\Ahttps?://[^/]+}] or abort "not an http(s) URL: #{url}"
path = url[%r{\Ahttps?://[^/]+(/.*)\z}, 1] || "/"
client = H2Client::Client.new(origin)
run = case variant
      when "get" then -> { client.get(path) }
      when "header" then -> { client.get(path)["content-type"] }
      when "stream" then -> { client.get(path) { |_c| nil } }
      when "bare" then bare_get(client, path)
      else abort "unknown variant #{variant}"
      end
200.times { run.call }
n.times { run.call }
client.close
