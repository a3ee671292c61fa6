# frozen_string_literal: true

require "test_helper"

class BasicTest < Minitest::Test
  include H2TestHelpers

  def test_library_loaded
    assert_match(/\A\d+\.\d+\.\d+/, H2Client.library_version)
    refute_nil H2Client.library_path
  end

  def test_get
    res = client.get("/")
    assert_instance_of H2Client::Response, res
    assert_equal 200, res.status
    assert res.success?
    assert_equal "hello from h2testserver\n", res.body
    assert_equal Encoding::BINARY, res.body.encoding
    assert_equal "text/plain", res.headers["content-type"]
    assert_equal "24", res.headers["content-length"]
    assert_equal "text/plain", res["Content-Type"]
    assert_empty res.trailers
  end

  def test_get_bytes_exact
    res = client.get("/bytes/100000")
    assert_equal 100_000, res.body.bytesize
    assert_equal pattern(100_000), res.body
    assert_equal "application/octet-stream", res.headers["content-type"]
  end

  def test_empty_body
    res = client.get("/bytes/0")
    assert_equal 200, res.status
    assert_equal "", res.body
    assert_equal Encoding::BINARY, res.body.encoding
  end

  def test_post_echo
    res = client.post("/echo", body: "hello, h2")
    assert_equal 200, res.status
    assert_equal "hello, h2", res.body
    assert_equal "POST", res.headers["x-echo-method"]
    assert_equal "9", res.headers["x-echo-h-content-length"]
  end

  def test_post_binary_body_round_trip
    body = (0..255).map(&:chr).join.b * 4096 # 1 MiB, every byte value
    res = client.post("/echo", body: body)
    assert_equal body, res.body
    assert_equal Encoding::BINARY, res.body.encoding
  end

  def test_post_utf8_string_is_sent_as_bytes
    res = client.post("/echo", body: "héllo ✓")
    assert_equal "héllo ✓".b, res.body
    assert_equal "héllo ✓".bytesize.to_s, res.headers["x-echo-h-content-length"]
  end

  def test_request_headers
    res = client.get("/echo", headers: { "X-Custom" => "value 1", :"x-sym" => 42,
                                         "x-multi" => %w[a b] })
    # Names are lowercased by the library; symbols and non-string values are accepted.
    assert_equal "value 1", res.headers["x-echo-h-x-custom"]
    assert_equal "42", res.headers["x-echo-h-x-sym"]
    # A repeated response header: joined in the Hash, separate in header_list.
    assert_equal "a, b", res.headers["x-echo-h-x-multi"]
    assert_equal %w[a b], res.header_values("x-echo-h-x-multi")
    assert_equal [%w[x-echo-h-x-multi a], %w[x-echo-h-x-multi b]],
                 res.header_list.select { |n, _| n == "x-echo-h-x-multi" }
  end

  def test_headers_as_array_of_pairs
    res = client.get("/echo", headers: [%w[x-a 1], %w[x-a 2]])
    assert_equal %w[1 2], res.header_values("x-echo-h-x-a")
  end

  def test_header_list_is_ordered_and_frozen
    res = client.get("/")
    assert_equal [%w[content-type text/plain], %w[content-length 24]], res.header_list
    assert res.header_list.frozen? || res.header_list.all?(&:frozen?)
    res.header_list.each do |name, value|
      assert name.frozen?
      assert value.frozen?
      assert_equal Encoding::UTF_8, name.encoding
    end
  end

  def test_header_value_encodings
    res = client.get("/echo", headers: { "x-utf8" => "héllo ✓", "x-latin1" => "caf\xE9".b })
    utf8 = res.headers["x-echo-h-x-utf8"]
    assert_equal "héllo ✓", utf8
    assert_equal Encoding::UTF_8, utf8.encoding
    latin1 = res.headers["x-echo-h-x-latin1"]
    assert_equal "caf\xE9".b, latin1
    assert_equal Encoding::BINARY, latin1.encoding
  end

  def test_request_method_variants
    assert_equal "PUT", client.put("/echo", body: "x").headers["x-echo-method"]
    assert_equal "PATCH", client.patch("/echo", body: "x").headers["x-echo-method"]
    assert_equal "DELETE", client.delete("/echo").headers["x-echo-method"]
    assert_equal "OPTIONS", client.request(:options, "/echo").headers["x-echo-method"]
    res = client.request("GET", "/echo?q=1&r=%20")
    assert_equal "/echo?q=1&r=%20", res.headers["x-echo-path"]
  end

  def test_head
    res = client.head("/bytes/1000")
    assert_equal 200, res.status
    assert_equal "1000", res.headers["content-length"]
    assert_equal "", res.body
  end

  def test_status_codes
    c = client
    [200, 201, 204, 301, 304, 400, 404, 418, 500, 503, 599].each do |code|
      res = c.get("/status/#{code}")
      assert_equal code, res.status, "status #{code}"
      assert_equal "", res.body
      assert_equal(code.between?(200, 299), res.success?)
    end
    assert_equal 404, c.get("/no/such/path").status
  end

  def test_trailers
    res = client.get("/trailers")
    assert_equal 200, res.status
    assert_equal "body with trailers\n", res.body
    assert_equal({ "x-trailer-one" => "1", "x-trailer-two" => "two" }, res.trailers)
    assert_equal [%w[x-trailer-one 1], %w[x-trailer-two two]], res.trailer_list
    assert_equal ["two"], res.trailer_values("X-Trailer-Two")
  end

  # Counts the responses Client#get read from the native response rather than from the copy
  # h2_client_fetch_into made in the scratch's buffer.
  module InPlace
    @count = 0
    class << self
      attr_accessor :count
    end

    def from_parts
      InPlace.count += 1
      super
    end
  end
  H2Client::Client::Scratch.prepend(InPlace)

  # Client#get reads a response that fits in the scratch's buffer (header fields, body,
  # trailers and URL) from the copy, a larger one where the library holds it: the same
  # Response on both sides of the boundary, which these sizes straddle.
  def test_get_either_side_of_the_copy_buffer
    c = client
    copy = H2Client::Client::Scratch::COPY
    before = InPlace.count
    sizes = ((copy - 300)..(copy + 8)).to_a
    sizes.each do |n|
      res = c.get("/bytes/#{n}")
      assert_equal 200, res.status
      assert_equal pattern(n), res.body, "#{n} bytes"
      assert_equal Encoding::BINARY, res.body.encoding
      assert_equal n.to_s, res["content-length"]
      assert_equal [%w[content-type application/octet-stream], ["content-length", n.to_s]],
                   res.header_list
      assert_equal "#{url}/bytes/#{n}", res.url
      assert_equal Encoding::UTF_8, res.url.encoding
      assert res.url.frozen?
      assert_empty res.trailer_list
    end
    in_place = InPlace.count - before
    assert_operator in_place, :>, 0, "some were too big to copy"
    assert_operator in_place, :<, sizes.size, "some were copied"
    # Trailers and an empty body, copied.
    assert_equal({ "x-trailer-one" => "1", "x-trailer-two" => "two" }, c.get("/trailers").trailers)
    assert_equal "", c.get("/bytes/0").body
    assert_equal InPlace.count - before, in_place
  end

  def test_many_sequential_requests_reuse_one_connection
    c = client
    200.times { |i| assert_equal 200, c.get("/bytes/#{i}").status }
    stats = settled_stats(c) { |st| st[:requests_completed] == 200 }
    assert_equal 1, stats[:connections_opened]
    assert_equal 200, stats[:requests_completed]
    assert_equal 0, stats[:requests_failed]
    assert_operator stats[:bytes_received], :>, 0
  end

  def test_open_with_block_closes
    c = nil
    status = H2Client::Client.open(url) do |cl|
      c = cl
      cl.get("/").status
    end
    assert_equal 200, status
    assert c.closed?
    assert_raises(H2Client::ClosedError) { c.get("/") }
  end

  def test_close_is_idempotent
    c = H2Client::Client.new(url)
    c.get("/")
    assert_nil c.close
    assert_nil c.close
    assert c.closed?
    e = assert_raises(H2Client::ClosedError) { c.get("/") }
    assert_equal 9, e.code
    assert_equal "H2_E_CLOSED", e.code_name
    assert_equal :no, e.processed
    assert_raises(H2Client::ClosedError) { c.stats }
  end

  def test_options_are_applied
    c = client(request_timeout_ms: 10_000, connect_timeout_ms: 2_000, max_connections: 2,
               max_concurrent_streams: 10, initial_window_size: 1 << 20,
               max_response_body: 1 << 30, max_retries: 1, keepalive_interval_ms: 0,
               idle_timeout_ms: 5_000, headers_timeout_ms: 5_000,
               body_idle_timeout_ms: 5_000, insecure_skip_verify: false,
               tls_versions: %i[tls1_2 tls1_3])
    assert_equal pattern(5000), c.get("/bytes/5000").body
    assert_equal 10, c.stats[:peer_max_concurrent_streams_max]
  end

  def test_inspect
    c = client
    assert_includes c.inspect, url
    assert_match(/200/, c.get("/").inspect)
  end
end
