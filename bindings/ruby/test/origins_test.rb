# frozen_string_literal: true

require "test_helper"
require "ipaddr"
require "json"
require "stringio"
require "uri"

# One client for every origin: with and without a base URL, paths and full URLs, query: and
# json:, redirects across origins, resolve: / connect_to: / local_address:, the per-origin
# connection cap and origin_stats. The shared test server is reached as 127.0.0.1 and as
# localhost (two origins), and a second server is a third origin.
class OriginsTest < Minitest::Test
  include H2TestHelpers

  # A second test server for the run: "http://127.0.0.1:PORT".
  def self.other_url
    TestServer.once(:other_url) { TestServer.start.first }
  end

  def other_url
    self.class.other_url
  end

  def port_of(url)
    Integer(url[/:(\d+)\z/, 1])
  end

  # The shared server's origin by name: "http://localhost:PORT".
  def localhost_url
    "http://localhost:#{port_of(url)}"
  end

  # A client without a base URL, closed by teardown.
  def bare_client(**opts)
    c = H2Client::Client.new(**opts)
    (@clients ||= []) << c
    c
  end

  # origin_stats(origin) once the block accepts them (the counters are updated on library
  # threads, a moment after the request returned), or the last ones after 3 s.
  def settled_origin_stats(client, origin)
    deadline = monotonic + 3
    loop do
      stats = client.origin_stats(origin)
      return stats if yield(stats) || monotonic > deadline

      sleep 0.01
    end
  end

  # /redirect/CODE at +from+ pointing to +to+.
  def redirect(from, to, code: 302)
    "#{from}/redirect/#{code}?to=#{URI.encode_www_form_component(to)}"
  end

  # ----- one client, several origins -------------------------------------------------------

  def test_client_without_base_url_reaches_three_origins
    c = bare_client
    assert_nil c.base_url
    assert_includes c.inspect, "(no base URL)"
    origins = [url, localhost_url, other_url]
    origins.each do |origin|
      2.times do
        res = c.get("#{origin}/echo")
        assert_equal 200, res.status
        assert_equal origin.delete_prefix("http://"), res["x-echo-authority"]
        assert_equal "http", res["x-echo-scheme"]
        assert_equal "#{origin}/echo", res.url
        assert_equal 0, res.redirect_count
      end
    end
    origins.each do |origin|
      stats = settled_origin_stats(c, origin) { |s| s[:requests_completed] == 2 }
      assert_equal 1, stats[:connections_opened], origin
      assert_equal 2, stats[:requests_completed], origin
    end
    total = settled_stats(c) { |s| s[:requests_completed] == 6 }
    assert_equal 3, total[:connections_opened]
    assert_equal 6, total[:requests_completed]
  end

  def test_client_without_base_url_mixes_http_and_https_origins
    tls = TestServer.tls
    c = bare_client(ca_file: tls[:ca])
    assert_equal "https", c.get("#{tls[:url]}/echo")["x-echo-scheme"]
    assert_equal "http", c.get("#{url}/echo")["x-echo-scheme"]
    assert_equal "#{tls[:url]}/bytes/10", c.get("#{tls[:url]}/bytes/10").url
    assert_equal 1, c.origin_stats(tls[:url])[:connections_opened]
    assert_equal 1, c.origin_stats(url)[:connections_opened]
  end

  def test_path_without_base_url_is_an_invalid_argument_error
    [bare_client, bare_client(follow_redirects: 3)].each do |c|
      calls = [
        -> { c.get("/echo") },
        -> { c.get("/echo") { |_chunk, _res| flunk "no body expected" } },
        -> { c.post("/echo", body: "x") },
        -> { c.post("/echo", body: StringIO.new("streamed")) },
        -> { c.request(:put, "/echo", json: { a: 1 }) }
      ]
      calls.each do |call|
        err = assert_raises(H2Client::InvalidArgumentError, &call)
        assert_equal 1, err.code
        assert_equal "H2_E_INVALID_ARGUMENT", err.code_name
        assert_equal :no, err.processed
        assert_match(/base URL/, err.message)
      end
      # The client is still usable with full URLs.
      assert_equal 200, c.get("#{url}/").status
    end
    assert_raises(H2Client::InvalidArgumentError) { H2Client::Client.new(nil).get("/") }
  end

  def test_client_with_base_url_takes_paths_and_full_urls
    c = client
    assert_equal url, c.base_url
    res = c.get("/echo")
    assert_equal "127.0.0.1:#{port_of(url)}", res["x-echo-authority"]
    assert_equal "#{url}/echo", res.url
    res = c.get("#{localhost_url}/echo?x=1")
    assert_equal "localhost:#{port_of(url)}", res["x-echo-authority"]
    assert_equal "/echo?x=1", res["x-echo-path"]
    assert_equal "#{localhost_url}/echo?x=1", res.url
    res = c.post(URI("#{other_url}/echo"), body: "to the other server")
    assert_equal "to the other server", res.body
    assert_equal "#{other_url}/echo", res.url
    assert_equal URI("#{other_url}/echo"), res.uri
    # Streaming calls name their URL too.
    chunks = []
    res = c.get("#{localhost_url}/bytes/100") { |chunk, _res| chunks << chunk }
    assert_equal pattern(100), chunks.join
    assert_equal "#{localhost_url}/bytes/100", res.url
    [url, localhost_url, other_url].each do |origin|
      stats = settled_origin_stats(c, origin) { |s| s[:requests_completed].positive? }
      assert_equal 1, stats[:connections_opened], origin
    end
  end

  def test_base_url_as_uri_and_open_without_base_url
    c = H2Client::Client.new(URI(url))
    assert_equal url, c.base_url
    assert_equal 200, c.get("/").status
    c.close
    status = H2Client::Client.open(request_timeout_ms: 10_000) do |anywhere|
      assert_nil anywhere.base_url
      anywhere.get("#{url}/").status
    end
    assert_equal 200, status
  end

  def test_bad_targets
    c = client
    assert_raises(H2Client::InvalidArgumentError) { c.get("echo") }
    err = assert_raises(H2Client::InvalidURLError) { c.get("ftp://127.0.0.1/") }
    assert_match(/scheme/, err.message)
    assert_raises(H2Client::InvalidURLError) { c.get("http://") }
    assert_raises(TypeError) { c.get(42) }
    assert_raises(H2Client::InvalidURLError) { H2Client::Client.new("127.0.0.1:80") }
  end

  # ----- query:, json: and form: ---------------------------------------------------------

  def test_query_is_encoded_and_appended
    c = client
    path = ->(target, query) { c.get(target, query: query)["x-echo-path"] }
    assert_equal "/echo?a=b+c&d=1&d=2&%C3%A9=%26%3D",
                 path.call("/echo", { "a" => "b c", d: [1, 2], "é" => "&=" })
    assert_equal "/echo?x=1&y=2&y=3", path.call("/echo?x=1", [["y", 2], ["y", 3]])
    assert_equal "/echo?y=2", path.call("/echo?", { y: 2 })
    assert_equal "/echo?x=1&y=2", path.call("/echo?x=1&", { y: 2 })
    assert_equal "/echo?flag", path.call("/echo", { flag: nil })
    assert_equal "/echo?y=2", path.call("/echo#section", { y: 2 }) # the fragment is not sent
    assert_equal "/echo", path.call("/echo", {})
    res = c.get("#{other_url}/echo", query: { q: "h2 client" })
    assert_equal "/echo?q=h2+client", res["x-echo-path"]
    assert_equal "#{other_url}/echo?q=h2+client", res.url
    res = c.post("/echo", query: { a: 1 }, body: "b") { |_chunk, _res| nil }
    assert_equal "/echo?a=1", res["x-echo-path"]
    assert_equal "/echo?a=1", c.head("/echo", query: { a: 1 })["x-echo-path"]
    assert_equal "/echo?a=1", c.delete("/echo", query: { a: 1 })["x-echo-path"]
    assert_raises(TypeError) { c.get("/echo", query: "a=1") }
  end

  def test_json_body_and_content_type
    c = client
    data = { "name" => "h2", "list" => [1, nil, true, 2.5], "text" => "é ✓" }
    res = c.post("/echo", json: data)
    assert_equal JSON.generate(data).b, res.body
    assert_equal data, JSON.parse(res.body.dup) # json < 2.7 re-encodes a binary String in place
    assert_equal ["application/json"], res.header_values("x-echo-h-content-type")
    assert_equal JSON.generate(data).bytesize.to_s, res["x-echo-h-content-length"]
    assert_nil res["x-echo-h-accept"], "json: adds no accept header"
    # The caller's content-type (any case, Hash or pairs) wins; theirs is the only one.
    res = c.put("/echo", json: [1], headers: { "Content-Type" => "application/vnd.api+json" })
    assert_equal ["application/vnd.api+json"], res.header_values("x-echo-h-content-type")
    assert_equal "PUT", res["x-echo-method"]
    res = c.patch("#{other_url}/echo", json: "s", headers: [[:"content-type", "text/x-json"]])
    assert_equal ["text/x-json"], res.header_values("x-echo-h-content-type")
    assert_equal '"s"', res.body
    # An accept header of the caller's goes out as given.
    res = c.request(:post, "/echo", json: {}, headers: { "accept" => "application/json" })
    assert_equal "application/json", res["x-echo-h-accept"]
    assert_equal "{}", res.body
    # Streamed response.
    body = +""
    res = c.post("/echo", json: { "k" => "v" }) { |chunk, _res| body << chunk }
    assert_equal({ "k" => "v" }, JSON.parse(body))
    assert_equal "application/json", res["x-echo-h-content-type"]
    assert_raises(ArgumentError) { c.post("/echo", json: {}, body: "x") }
  end

  def test_form_body_and_content_type
    c = client
    res = c.post("/echo", form: { "name" => "a b", "tag" => %w[x y], "é" => "&=" })
    assert_equal "name=a+b&tag=x&tag=y&%C3%A9=%26%3D".b, res.body
    assert_equal ["application/x-www-form-urlencoded"], res.header_values("x-echo-h-content-type")
    assert_equal res.body.bytesize.to_s, res["x-echo-h-content-length"]
    assert_equal "POST", res["x-echo-method"]
    # Pairs; the caller's content-type (any case) wins.
    type = "application/x-www-form-urlencoded; charset=utf-8"
    res = c.put("/echo", form: [["a", 1], ["a", 2]], headers: { "Content-Type" => type })
    assert_equal "a=1&a=2", res.body
    assert_equal [type], res.header_values("x-echo-h-content-type")
    assert_equal "PATCH", c.patch("#{other_url}/echo", form: { k: "v" })["x-echo-method"]
    assert_equal "k=v", c.request(:delete, "/echo", form: { k: "v" }).body
    body = +""
    c.post("/echo", form: { k: "v" }, query: { q: 1 }) { |chunk, _res| body << chunk }
    assert_equal "k=v", body
    assert_equal "", c.post("/echo", form: {}).body
    # Only one body.
    assert_raises(ArgumentError) { c.post("/echo", form: {}, body: "x") }
    assert_raises(ArgumentError) { c.post("/echo", form: {}, json: {}) }
    assert_raises(ArgumentError) { c.post("/echo", form: { a: 1 }, json: {}, body: "x") }
    assert_raises(TypeError) { c.post("/echo", form: "a=1") }
  end

  # ----- redirects ---------------------------------------------------------------------------

  def test_redirect_across_origins
    target = "#{other_url}/echo?from=redirect"
    start = redirect(url, target)
    c = bare_client(follow_redirects: 3)
    res = c.get(start)
    assert_equal 200, res.status
    assert_equal target, res.url
    assert_equal 1, res.redirect_count
    assert_equal "/echo?from=redirect", res["x-echo-path"]
    assert_equal other_url.delete_prefix("http://"), res["x-echo-authority"]
    assert_match(/redirects=1/, res.inspect)
    # The same through a streaming call.
    chunks = []
    res = c.get(redirect(localhost_url, "#{other_url}/bytes/50")) { |chunk, _| chunks << chunk }
    assert_equal [200, "#{other_url}/bytes/50", 1], [res.status, res.url, res.redirect_count]
    assert_equal pattern(50), chunks.join
    # 307 keeps the method and the body, also to another origin.
    res = c.post(redirect(url, "#{localhost_url}/echo", code: 307), json: { "a" => 1 })
    assert_equal ["POST", '{"a":1}', 1], [res["x-echo-method"], res.body, res.redirect_count]
    assert_equal "localhost:#{port_of(url)}", res["x-echo-authority"]
    assert_equal 1, settled_origin_stats(c, other_url) { |s| s[:requests_completed] == 2 }[
      :connections_opened
    ]
  end

  def test_redirects_are_off_by_default
    target = "#{other_url}/echo"
    start = redirect(url, target)
    [bare_client, bare_client(follow_redirects: false), bare_client(follow_redirects: 0),
     bare_client(follow_redirects: nil)].each do |c|
      res = c.get(start)
      assert_equal 302, res.status
      assert_equal target, res["location"]
      assert_equal start, res.url
      assert_equal 0, res.redirect_count
    end
    res = bare_client(follow_redirects: true).get(start)
    assert_equal [200, target, 1], [res.status, res.url, res.redirect_count]
  end

  def test_too_many_redirects
    last = "#{url}/echo"
    chain = redirect(localhost_url, redirect(other_url, last))
    err = assert_raises(H2Client::TooManyRedirectsError) do
      bare_client(follow_redirects: 1).get(chain)
    end
    assert_equal "H2_E_TOO_MANY_REDIRECTS", err.code_name
    assert_includes err.message, other_url
    err = assert_raises(H2Client::TooManyRedirectsError) do
      bare_client(follow_redirects: 1).get(chain) { |_chunk, _res| nil }
    end
    assert_equal 18, err.code
    res = bare_client(follow_redirects: 2).get(chain)
    assert_equal [200, last, 2], [res.status, res.url, res.redirect_count]
  end

  def test_https_to_http_redirect_needs_consent
    tls = TestServer.tls
    target = "#{url}/echo"
    start = redirect(tls[:url], target)
    res = bare_client(ca_file: tls[:ca], follow_redirects: 3).get(start)
    assert_equal [302, start, 0], [res.status, res.url, res.redirect_count]
    assert_equal target, res["location"]
    res = bare_client(ca_file: tls[:ca], follow_redirects: 3,
                      redirect_https_to_http: true).get(start)
    assert_equal [200, target, 1], [res.status, res.url, res.redirect_count]
  end

  # ----- resolve:, connect_to:, local_address: ----------------------------------------------

  def test_resolve_reaches_a_made_up_host_name
    port = port_of(url)
    c = bare_client(resolve: "h2client-ruby.test:#{port}:127.0.0.1")
    res = c.get("http://h2client-ruby.test:#{port}/echo")
    assert_equal 200, res.status
    assert_equal "h2client-ruby.test:#{port}", res["x-echo-authority"]
    assert_equal "http://h2client-ruby.test:#{port}/echo", res.url
    # Several entries; the second has two addresses: ::1 (nothing listens there), then
    # 127.0.0.1.
    other = port_of(other_url)
    c = bare_client(resolve: ["a.h2client-ruby.test:#{port}:127.0.0.1",
                              "b.h2client-ruby.test:#{other}:[::1],127.0.0.1"])
    assert_equal "a.h2client-ruby.test:#{port}",
                 c.get("http://a.h2client-ruby.test:#{port}/echo")["x-echo-authority"]
    assert_equal "b.h2client-ruby.test:#{other}",
                 c.get("http://b.h2client-ruby.test:#{other}/echo")["x-echo-authority"]
    assert_raises(H2Client::InvalidArgumentError) { H2Client::Client.new(resolve: "nope") }
    assert_raises(TypeError) { H2Client::Client.new(resolve: [42]) }
    assert_equal 200, bare_client(resolve: nil, connect_to: []).get("#{url}/").status
  end

  def test_connect_to_routes_a_made_up_origin
    port = port_of(other_url)
    c = bare_client(connect_to: ["made-up.h2client-ruby.test:80:127.0.0.1:#{port}"])
    res = c.get("http://made-up.h2client-ruby.test/echo")
    assert_equal "made-up.h2client-ruby.test", res["x-echo-authority"]
    assert_equal "http://made-up.h2client-ruby.test/echo", res.url
    assert_raises(H2Client::InvalidArgumentError) { H2Client::Client.new(connect_to: "a:b") }
  end

  def test_local_address
    [bare_client(local_address: "127.0.0.1"),
     bare_client(local_address: IPAddr.new("127.0.0.1"))].each do |c|
      assert_equal 200, c.get("#{url}/").status
    end
    # 192.0.2.1 (TEST-NET-1) is not an address of this machine.
    c = bare_client(local_address: "192.0.2.1", connect_timeout_ms: 5_000)
    err = assert_raises(H2Client::ConnectError) { c.get("#{url}/") }
    assert_includes err.message, "192.0.2.1"
    assert_raises(H2Client::InvalidArgumentError) do
      H2Client::Client.new(local_address: "not-an-address")
    end
    assert_raises(TypeError) { H2Client::Client.new(local_address: 127) }
  end

  # ----- connection caps and stats -----------------------------------------------------------

  def test_max_connections_per_origin
    c = bare_client(max_connections_per_origin: 1, max_concurrent_streams: 1)
    t0 = monotonic
    statuses = Array.new(3) { Thread.new { c.get("#{url}/delay/200").status } }.map(&:value)
    elapsed = monotonic - t0
    assert_equal [200, 200, 200], statuses
    # One connection with one stream slot: the three requests ran one after the other.
    assert_operator elapsed, :>=, 0.6
    assert_equal 1, c.origin_stats(url)[:connections_opened]
    assert_raises(H2Client::InvalidArgumentError) do
      H2Client::Client.new(max_connections_per_origin: 0)
    end
  end

  def test_origin_stats
    c = bare_client
    assert_equal 200, c.get("#{url}/bytes/1000").status
    stats = settled_origin_stats(c, url) { |s| s[:requests_completed] == 1 }
    assert_equal 1, stats[:requests_completed]
    assert_operator stats[:bytes_received], :>=, 1000
    # The same origin named by a URI with a path (a PING may change rtt_us and the byte
    # counts meanwhile: not compared).
    again = c.origin_stats(URI("#{url}/any/path"))
    %i[connections_opened requests_completed].each do |key|
      assert_equal stats[key], again[key], key
    end
    assert_includes stats.keys, :limit_header_list
    refute_includes stats.keys, :reserved
    # Never used: zeros.
    unused = c.origin_stats("https://unused.h2client-ruby.test")
    assert unused.values.all?(&:zero?), unused.inspect
    assert_raises(H2Client::InvalidURLError) { c.origin_stats("not a url") }
    assert_raises(TypeError) { c.origin_stats(nil) }
    c.close
    assert_raises(H2Client::ClosedError) { c.origin_stats(url) }
  end

  def test_option_types
    assert_raises(TypeError) { H2Client::Client.new(follow_redirects: "3") }
    assert_raises(H2Client::InvalidArgumentError) { H2Client::Client.new(follow_redirects: -1) }
    assert_raises(TypeError) { H2Client::Client.new(proxy: 8080) }
    assert_raises(TypeError) { H2Client::Client.new(proxy: true) }
    assert_raises(H2Client::InvalidURLError) { H2Client::Client.new(proxy: "ftp://127.0.0.1:1") }
    assert_raises(TypeError) { H2Client::Client.new(no_proxy: 1) }
    err = assert_raises(ArgumentError) { H2Client::Client.new(base_url: url) } # positional
    assert_match(/unknown option :base_url/, err.message)
    err = assert_raises(ArgumentError) { H2Client::Client.new(follow_redirect: 1) }
    assert_match(/follow_redirects/, err.message)
  end
end
